"""NumPyro's NUTS transition unrolled into a per-lane state machine: one leapfrog step per tick.

``numpyro.infer.hmc.hmc(algo="NUTS")`` builds a trajectory in two nested loops: ``build_tree``
doubles the tree until a U-turn, a divergence or the depth limit, and each doubling
(``_iterative_build_subtree``) adds one leaf, one leapfrog step, at a time. Vmapped over lanes,
those loops make every lane wait for the longest trajectory. Here their loop state is a lane's
:class:`Walk`, and the loop bodies are separate functions: :meth:`NutsWalker.leaf` (one leapfrog
step, the subtree's U-turn check), :meth:`NutsWalker.merge` (a finished subtree joined to the
tree, the next doubling begun) and :meth:`NutsWalker.finish` (``sample_kernel``'s end: the
proposal, the warmup adaptation, the statistics; the next transition begun). They call NumPyro's
own functions with the keys NumPyro splits, in NumPyro's order, so a lane draws what NumPyro's
kernel draws (``tests/test_interleaved.py``).

Reference: Radul, Patton, Maclaurin, Hoffman & Saurous (2020), "Automatically batching
control-intensive programs for modern accelerators", MLSys.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
from jax.flatten_util import ravel_pytree
from numpyro.infer.hmc import HMCState, momentum_generator
from numpyro.infer.hmc_util import (
    IntegratorState,
    TreeInfo,
    _build_basetree,
    _combine_tree,
    _get_leaf,
    _is_iterative_turning,
    _leaf_idx_to_ckpt_idxs,
    euclidean_kinetic_energy,
    velocity_verlet,
    warmup_adapter,
)

from ._kernel import Transitions

# numpyro.infer.hmc.hmc's divergence threshold (not an argument there either).
MAX_DELTA_ENERGY = 1000.0


class Walk(NamedTuple):
    """One lane's NUTS transition under way: ``build_tree``'s and ``_iterative_build_subtree``'s
    loop state, with the chain's state before the transition."""

    state: HMCState  # the chain before this transition (adaptation included)
    next_key: jax.Array  # the chain's key after it (sample_kernel's first split)
    momentum: Any  # the transition's initial momentum r
    energy: jax.Array  # H(z, r) at the start (build_tree's energy_current)
    tree: TreeInfo  # the tree doubled so far
    tree_key: jax.Array  # build_tree's loop key
    going_right: jax.Array  # the direction of the doubling under way
    merge_key: jax.Array  # _double_tree's key for joining its subtree to the tree
    subtree: TreeInfo  # the doubling's subtree so far
    subtree_key: jax.Array  # _iterative_build_subtree's loop key
    turning: jax.Array  # the subtree's U-turn flag
    r_ckpts: jax.Array  # (max_tree_depth, latent size) momentum checkpoints
    r_sum_ckpts: jax.Array


def where(pred: jax.Array, new, old):
    """``new`` where ``pred`` else ``old``, leaf by leaf, in ``old``'s dtypes (a loop carry)."""
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b).astype(jnp.result_type(b)), new, old)


class NutsWalker(NamedTuple):
    """NumPyro's NUTS for one chain as a state machine over :class:`Walk`.

    ``potential_fn_gen(*model_args)`` gives the potential energy (``hmc``'s argument of that
    name); ``model_args(y)`` the arguments for a lane's data ``y``. Settings as
    ``hmc(...)``'s ``init_kernel``: warmup length, target acceptance, tree depth (one value for
    warmup and sampling), NumPyro's defaults otherwise (diagonal mass, adapted step size and mass
    matrix, no heuristic step-size search).
    """

    potential_fn_gen: Any
    model_args: Any
    num_warmup: int
    target_accept_prob: float
    max_tree_depth: int
    unravel: Any  # a flat position (ravel_pytree order) to the model's site dict

    def flat(self, state: HMCState) -> HMCState:
        """``state`` with its position and gradient as flat vectors (``ravel_pytree`` order):
        the walk's arrays are single leaves, so a tick is a few fused operations."""
        return state._replace(z=ravel_pytree(state.z)[0], z_grad=ravel_pytree(state.z_grad)[0])

    def _update(self, y):
        pe_fn = self.potential_fn_gen(*self.model_args(y))
        # Elementwise the same arithmetic as on the site dict: ravel and unravel only copy.
        return velocity_verlet(lambda z: pe_fn(self.unravel(z)), euclidean_kinetic_energy)[1]

    def _adapt(self, t, accept_prob, z_info, adapt_state):
        # Rebuilt as init_kernel builds it: pure functions of these settings, no state.
        update = warmup_adapter(self.num_warmup, target_accept_prob=self.target_accept_prob)[1]
        return update(t, accept_prob, z_info, adapt_state)

    def begin(self, state: HMCState) -> Walk:
        """The transition from ``state`` (flat, :meth:`flat`): ``sample_kernel``'s key split
        and momentum, ``build_tree``'s one-leaf tree, the first doubling begun."""
        next_key, momentum_key, tree_key = jr.split(state.rng_key, 3)
        adapt = state.adapt_state
        r = momentum_generator(state.z, adapt.mass_matrix_sqrt, momentum_key)
        energy = state.potential_energy + euclidean_kinetic_energy(adapt.inverse_mass_matrix, r)
        z, pe, grad = state.z, state.potential_energy, state.z_grad
        int_type = jnp.result_type(int)
        tree = TreeInfo(
            z, r, grad, z, r, grad, z, pe, grad, energy,
            depth=jnp.zeros((), int_type),
            weight=jnp.zeros_like(energy),
            r_sum=r,
            turning=jnp.array(False),
            diverging=jnp.array(False),
            sum_accept_probs=jnp.zeros_like(energy),
            num_proposals=jnp.zeros((), int_type),
        )  # fmt: skip
        size = r.shape[0]
        ckpts = jnp.zeros((self.max_tree_depth, size), jnp.result_type(float))
        walk = Walk(
            state, next_key, r, energy, tree, tree_key,
            going_right=jnp.array(False),
            merge_key=tree_key,
            subtree=tree,
            subtree_key=tree_key,
            turning=jnp.array(False),
            r_ckpts=ckpts,
            r_sum_ckpts=ckpts,
        )  # fmt: skip
        return self._double(walk)

    def _double(self, walk: Walk) -> Walk:
        """``build_tree``'s loop body up to the subtree: direction, keys, empty subtree."""
        tree_key, direction_key, doubling_key = jr.split(walk.tree_key, 3)
        subtree_key, merge_key = jr.split(doubling_key)
        # NumPyro starts a subtree as a copy of the tree with no proposals and zeroed
        # checkpoints. Only the count is reset here: the first leaf reads the tree's outer leaf
        # (:meth:`leaf`), and every checkpoint a subtree reads it has written first.
        return walk._replace(
            tree_key=tree_key,
            going_right=jr.bernoulli(direction_key),
            merge_key=merge_key,
            subtree=walk.subtree._replace(num_proposals=jnp.zeros_like(walk.subtree.num_proposals)),
            subtree_key=subtree_key,
            turning=jnp.array(False),
        )

    def leaf(self, walk: Walk, y) -> tuple[Walk, jax.Array]:
        """One leapfrog step: ``_iterative_build_subtree``'s loop body. Returns the walk and
        whether the subtree is finished (full, turning or diverging)."""
        adapt = walk.state.adapt_state
        imm, step_size = adapt.inverse_mass_matrix, adapt.step_size
        current = walk.subtree
        subtree_key, leaf_key = jr.split(walk.subtree_key)
        start = jax.tree.map(
            partial(jnp.where, current.num_proposals == 0),
            _get_leaf(walk.tree, walk.going_right),
            _get_leaf(current, walk.going_right),
        )
        z, r, z_grad = start
        new_leaf = _build_basetree(
            self._update(y),
            euclidean_kinetic_energy,
            z,
            r,
            z_grad,
            imm,
            step_size,
            walk.going_right,
            walk.energy,
            MAX_DELTA_ENERGY,
        )
        joined = _combine_tree(current, new_leaf, imm, walk.going_right, leaf_key, False)
        new_tree = where(current.num_proposals == 0, new_leaf, joined)
        leaf_idx = current.num_proposals
        idx_min, idx_max = _leaf_idx_to_ckpt_idxs(leaf_idx)
        r_flat, r_sum_flat = new_leaf.r_right, new_tree.r_sum
        # Checkpoint idx_max set at even leaves: one row written, the others left in place.
        even = leaf_idx % 2 == 0
        r_ckpts = walk.r_ckpts.at[idx_max].set(jnp.where(even, r_flat, walk.r_ckpts[idx_max]))
        r_sum_ckpts = walk.r_sum_ckpts.at[idx_max].set(
            jnp.where(even, r_sum_flat, walk.r_sum_ckpts[idx_max])
        )
        turning = _is_iterative_turning(
            imm, r_flat, r_sum_flat, r_ckpts, r_sum_ckpts, idx_min, idx_max
        )
        done = (new_tree.num_proposals >= 2**walk.tree.depth) | turning | new_tree.diverging
        walk = walk._replace(
            subtree=where(True, new_tree, walk.subtree),
            subtree_key=subtree_key,
            turning=turning,
            r_ckpts=r_ckpts,
            r_sum_ckpts=r_sum_ckpts,
        )
        return walk, done

    def merge(self, walk: Walk, closed: jax.Array) -> tuple[Walk, jax.Array]:
        """Where ``closed``, the finished subtree joined to the tree (``_double_tree``'s end)
        and the next doubling begun unless the tree is done. Returns the walk and whether the
        transition is done."""
        sub = walk.subtree
        sub = sub._replace(depth=walk.tree.depth, turning=walk.turning)
        imm = walk.state.adapt_state.inverse_mass_matrix
        tree = _combine_tree(walk.tree, sub, imm, walk.going_right, walk.merge_key, True)
        tree = where(closed, tree, walk.tree)
        going_on = (tree.depth < self.max_tree_depth) & ~tree.turning & ~tree.diverging
        doubled = self._double(walk)
        again = closed & going_on
        walk = walk._replace(
            tree=tree,
            subtree=walk.subtree._replace(
                num_proposals=jnp.where(again, 0, walk.subtree.num_proposals)
            ),
            **{
                name: jnp.where(again, getattr(doubled, name), getattr(walk, name))
                for name in ("tree_key", "going_right", "merge_key", "subtree_key", "turning")
            },
        )
        return walk, closed & ~going_on

    def finish(self, walk: Walk) -> tuple[HMCState, Transitions]:
        """``sample_kernel``'s end: the proposal taken, the warmup adaptation updated, the
        chain's new state and what the transition records."""
        tree, state = walk.tree, walk.state
        accept_prob = tree.sum_accept_probs / tree.num_proposals
        z_info = IntegratorState(
            tree.z_proposal, walk.momentum, tree.z_proposal_pe, tree.z_proposal_grad
        )
        warming = state.i < self.num_warmup
        adapt = where(
            warming,
            self._adapt(state.i, accept_prob, z_info, state.adapt_state),
            state.adapt_state,
        )
        itr = state.i + 1
        n = jnp.where(warming, itr, itr - self.num_warmup)
        mean_accept = state.mean_accept_prob + (accept_prob - state.mean_accept_prob) / n
        new = HMCState(
            itr,
            tree.z_proposal,
            tree.z_proposal_grad,
            tree.z_proposal_pe,
            tree.z_proposal_energy,
            None,
            state.trajectory_length,
            tree.num_proposals,
            accept_prob,
            mean_accept,
            tree.diverging,
            adapt,
            walk.next_key,
        )
        new = where(True, new, state)
        record = Transitions(new.z, new.diverging, new.num_steps, new.accept_prob, new.energy)
        return new, record

    def transition(self, state: HMCState, y) -> tuple[HMCState, Transitions]:
        """One whole transition from ``state``, tick by tick: ``sample_kernel`` as this state
        machine computes it (the lane-for-lane tests compare it with NumPyro's)."""

        def tick(carry):
            walk, _ = carry
            walk, closed = self.leaf(walk, y)
            return self.merge(walk, closed)

        walk, _ = jax.lax.while_loop(
            lambda carry: ~carry[1], tick, (self.begin(state), jnp.array(False))
        )
        return self.finish(walk)
