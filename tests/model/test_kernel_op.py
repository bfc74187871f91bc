"""The kernel Op pair: its values equal kernel.expected_pain, and its hand-written VJP equals
PyTensor autodiff of kernel.expected_pain, in every backend the fit can use."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from recovery.model import PARAMS, Cohort, ModelConfig
from recovery.model.likelihood.build import CohortData, prepare
from recovery.model.likelihood.kernel import Params, expected_pain
from recovery.model.likelihood.kernel_op import expected_pain_op

CFG = ModelConfig()


@pytest.fixture(scope="module")
def case(small_cohort_timed: Cohort) -> tuple[CohortData, list[np.ndarray]]:
    """The small cohort's design with spread-out parameters (patients without sessions too)."""
    data = prepare(small_cohort_timed, CFG)
    rng = np.random.default_rng(4)
    n_kinds = len(data.kinds)
    theta = rng.normal(0.0, 1.0, (len(data.patient_ids), len(PARAMS)))
    values = [theta, np.array(30.0), *(rng.uniform(0.5, 2.0, n_kinds) for _ in range(4)),
              np.array(0.7)]
    assert data.design.paired.max() > 0  # the synergy term is exercised
    assert np.ptp(data.onset) > 30  # patients whose pain began at different times
    n_sessions = data.design.session_mask.sum(axis=1)
    assert (n_sessions > 3).any()
    assert (n_sessions == 0).any()
    return data, values


def _inputs() -> list:
    return [pt.dmatrix("theta"), pt.dscalar("tau"), *(pt.dvector(n) for n in "wvuf"),
            pt.dscalar("synergy")]


def _graphs(data: CohortData) -> tuple[list, object, object]:
    """The same weighted sum of mu through the Op and through kernel.expected_pain."""
    inputs = _inputs()
    weights = np.random.default_rng(5).normal(size=len(data.y))
    p = Params(*inputs, onset=data.onset)
    op_out = (expected_pain_op(p, data.adherence, data.design, CFG) * weights).sum()
    ref_out = (expected_pain(p, data.adherence, data.design, CFG, xp=pt) * weights).sum()
    return inputs, op_out, ref_out


def test_values_equal_expected_pain(case: tuple) -> None:
    data, values = case
    inputs = _inputs()
    out = expected_pain_op(Params(*inputs, onset=data.onset), data.adherence, data.design, CFG)
    got = pytensor.function(inputs, out, mode="NUMBA")(*values)
    theta, tau, *weights, syn = values
    want = expected_pain(Params(theta, tau[None], *weights, syn[None], data.onset),
                         data.adherence, data.design, CFG)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert np.ptp(want) > 3  # the cohort's parameters spread the trajectories


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_RUN", "JAX"])
def test_vjp_equals_autodiff_of_expected_pain(case: tuple, mode: str) -> None:
    if mode == "JAX":
        import recovery.model.likelihood.jax_ops  # noqa: F401  registers the JAX versions
    data, values = case
    inputs, op_out, ref_out = _graphs(data)
    got = pytensor.function(inputs, [op_out, *pt.grad(op_out, inputs)], mode=mode)(*values)
    want = pytensor.function(inputs, [ref_out, *pt.grad(ref_out, inputs)], mode="FAST_RUN")(
        *values)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-10)
    assert np.abs(want[1][:, :2]).min() > 0  # every patient's natural course reaches the scores


def test_unsorted_scores_are_refused(case: tuple) -> None:
    data, _ = case
    design = data.design
    shuffled = type(design)(**{**design.__dict__, "t": design.t[::-1].copy()})
    with pytest.raises(ValueError, match="sorted by patient"):
        expected_pain_op(Params(pt.dmatrix(), 30.0, *[np.ones(2)] * 4, 1.0), data.adherence,
                         shuffled, CFG)
