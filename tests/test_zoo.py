import inspect

import pytest

from regmaster import (
    MODEL_NAMES,
    REGISTRY,
    DeepRFFRegressor,
    ModelSpec,
    RFFFeatureMap,
    get_spec,
    make_sinc,
    names,
)
from regmaster.zoo import FAMILIES

# From the reference notebook's own asserts and printed table.
NOTEBOOK = {
    "linear": ("<", 0.3, -0.015),
    "mlp_map": (">", 0.85, 0.992),
    "mlp_dropout": (">", 0.80, 0.906),
    "bnn": (">", 0.70, 0.994),
    "rff_svr": (">", 0.80, 0.996),
    "rff_gp": (">", 0.80, 0.996),
    "deep_rff": (">", 0.70, 0.995),
}


def test_registry_holds_the_seven_models_in_notebook_order():
    assert MODEL_NAMES == tuple(NOTEBOOK)


@pytest.mark.parametrize("name", list(NOTEBOOK))
def test_thresholds_and_printed_r2_are_the_notebooks(name):
    nb = REGISTRY[name].notebook
    assert (nb.r2_direction, nb.r2_threshold, nb.printed_r2) == NOTEBOOK[name]


def test_notebook_settings():
    nuts = {
        n: (REGISTRY[n].notebook.num_warmup, REGISTRY[n].notebook.num_samples)
        for n in MODEL_NAMES
        if REGISTRY[n].inference == "nuts"
    }
    assert nuts == {
        "linear": (300, 500),
        "bnn": (300, 500),
        "rff_svr": (300, 500),
        "rff_gp": (300, 500),
        "deep_rff": (200, 300),
    }
    mlp_map, mlp_dropout = REGISTRY["mlp_map"].notebook, REGISTRY["mlp_dropout"].notebook
    assert (mlp_map.svi_steps, mlp_map.num_predictive) == (2000, 200)
    assert mlp_dropout.num_predictive == 100
    assert REGISTRY["deep_rff"].keys_used() == [13, 14]
    assert REGISTRY["rff_gp"].keys_used() == [8, 11, 12]


def test_rff_models_share_one_feature_map_from_key_8():
    keys = make_sinc().model_keys
    svr, gp = REGISTRY["rff_svr"].kwargs(keys)["rff"], REGISTRY["rff_gp"].kwargs(keys)["rff"]
    assert isinstance(svr, RFFFeatureMap) and svr.n_features == 40
    assert bool((svr.omega == gp.omega).all()) and bool((svr.bias == gp.bias).all())
    assert isinstance(REGISTRY["deep_rff"].kwargs(keys)["deep_rff"], DeepRFFRegressor)


def test_passes_respects_direction():
    linear, bnn = REGISTRY["linear"].notebook, REGISTRY["bnn"].notebook
    assert linear.passes(-0.02) and not linear.passes(0.5)
    assert bnn.passes(0.9) and not bnn.passes(0.5)


def test_unknown_model_name_raises_naming_it():
    with pytest.raises(ValueError, match="'resnet'"):
        get_spec("resnet")


def test_every_calibratable_entry_names_its_inference_and_its_model_accepts_its_kwargs():
    keys = make_sinc().model_keys
    for name in names(calibratable=True):
        spec = get_spec(name)
        # A MAP-fitted entry is calibrated through an approximation its SBC settings name.
        assert spec.inference == "nuts" or spec.sbc.inference is not None, name
        assert set(spec.kwargs(keys)) <= set(inspect.signature(spec.model).parameters), name


def test_every_nuts_entry_is_fittable_and_calibratable():
    nuts = names(inference="nuts")
    assert set(nuts) <= set(names(calibratable=True)) & set(names(fittable=True))
    assert {"rff_gp_noncentred", "deep_rff_smooth", "deep_rff_depth12", "bnn_depth16"} <= set(nuts)


def test_variants_stand_for_a_notebook_model_and_keep_its_joint_law_facts():
    for name, spec in REGISTRY.items():
        if spec.stands_for is not None:
            base = REGISTRY[spec.stands_for]
            assert base.stands_for is None and spec.notebook == base.notebook, name


def test_deep_rff_smooth_replaces_only_the_feature_lengthscales_and_noise_prior():
    keys = make_sinc().model_keys
    smooth = get_spec("deep_rff_smooth").kwargs(keys)
    notebook = get_spec("deep_rff").kwargs(keys)
    assert smooth["sigma_scale"] == 0.5 and "sigma_scale" not in notebook
    a, b = smooth["deep_rff"], notebook["deep_rff"]
    # Same keys, frequencies divided by the lengthscales 4 and 2 (powers of two: exact).
    assert bool((a.rff1.omega * 4.0 == b.rff1.omega).all())
    assert bool((a.rff2.omega * 2.0 == b.rff2.omega).all())


def test_names_filter_by_family_and_refuse_an_unknown_one():
    assert names("map") == ["linear", "mlp_map", "rff_svr"]
    assert "bnn_depth16" in names("convergence") and "bnn_depth16" not in names("sbc")
    with pytest.raises(ValueError, match="'nosuch'"):
        names("nosuch")


def test_an_entry_checked_by_a_family_needs_that_familys_settings():
    with pytest.raises(ValueError, match="'sbc'"):
        ModelSpec(name="x", title="x", model=lambda x, y=None: None, checks={"sbc": "ci"})
    with pytest.raises(ValueError, match="'weekly'"):
        ModelSpec(name="x", title="x", model=lambda x, y=None: None, checks={"r2": "weekly"})
    assert set(FAMILIES) >= {f for spec in REGISTRY.values() for f in spec.checks}
