import inspect

import pytest

from regmaster import (
    MODEL_NAMES,
    REGISTRY,
    SBC_SETTINGS,
    DeepRFFRegressor,
    RFFFeatureMap,
    get_spec,
    make_sinc,
)

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
    spec = REGISTRY[name]
    assert (spec.r2_direction, spec.r2_threshold, spec.notebook_r2) == NOTEBOOK[name]


def test_notebook_settings():
    nuts = {
        n: (REGISTRY[n].num_warmup, REGISTRY[n].num_samples)
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
    assert (REGISTRY["mlp_map"].svi_steps, REGISTRY["mlp_map"].num_predictive) == (2000, 200)
    assert REGISTRY["mlp_dropout"].num_predictive == 100
    assert REGISTRY["deep_rff"].keys_used() == [13, 14]
    assert REGISTRY["rff_gp"].keys_used() == [8, 11, 12]


def test_rff_models_share_one_feature_map_from_key_8():
    keys = make_sinc().model_keys
    svr, gp = REGISTRY["rff_svr"].kwargs(keys)["rff"], REGISTRY["rff_gp"].kwargs(keys)["rff"]
    assert isinstance(svr, RFFFeatureMap) and svr.n_features == 40
    assert bool((svr.omega == gp.omega).all()) and bool((svr.bias == gp.bias).all())
    assert isinstance(REGISTRY["deep_rff"].kwargs(keys)["deep_rff"], DeepRFFRegressor)


def test_passes_respects_direction():
    assert REGISTRY["linear"].passes(-0.02) and not REGISTRY["linear"].passes(0.5)
    assert REGISTRY["bnn"].passes(0.9) and not REGISTRY["bnn"].passes(0.5)


def test_unknown_model_name_raises_naming_it():
    with pytest.raises(ValueError, match="'resnet'"):
        get_spec("resnet")


def test_every_sbc_setting_names_a_registered_nuts_model():
    keys = make_sinc().model_keys
    for name, settings in SBC_SETTINGS.items():
        spec = get_spec(settings.model or name)
        assert spec.inference == "nuts", name
        if settings.model_kwargs is not None:
            replaced = settings.model_kwargs(keys[spec.module_key])
            assert set(replaced) <= set(inspect.signature(spec.model).parameters), name
