"""Diagnostic plots of a fit: posterior predictive check and population parameters (PNG)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from recovery.model.config import PARAMS
from recovery.model.inference.fit import FittedModel, posterior_params
from recovery.model.likelihood.kernel import expected_pain, transform
from recovery.model.likelihood.residual import filter_scores

__all__ = ["plot_calibration", "plot_population", "plot_ppc", "plot_trace", "replicate_scores",
           "save_with_plots"]


def replicate_scores(fitted: FittedModel, rng: np.random.Generator, max_draws: int = 200
                     ) -> np.ndarray:
    """Posterior predictive replicates (draws x scores), each given the previous real score."""
    data = fitted.data
    p = posterior_params(fitted.idata, data, max_draws)
    mu = expected_pain(p, data.adherence, data.design, fitted.config)
    post = fitted.idata["posterior"].stack(sample=("chain", "draw"))
    idx = np.linspace(0, post.sizes["sample"] - 1, mu.shape[0]).astype(int)
    sig, share, ell = (post[n].values[idx, None] for n in ("sigma", "share", "ell"))
    f = filter_scores(np.asarray(mu), data.y, data.grid, (sig, share, ell))
    return np.clip(np.round(f.m + f.s * rng.standard_normal(f.m.shape)), 0, 10)


def plot_ppc(fitted: FittedModel, path: Path, rng: np.random.Generator) -> dict[str, float]:
    """Observed vs replicated score histogram and weekly mean; returns the 90 % coverage."""
    data = fitted.data
    rep = replicate_scores(fitted, rng)
    lo, hi = np.quantile(rep, [0.05, 0.95], axis=0)
    coverage = float(np.mean((data.y >= lo) & (data.y <= hi)))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    bins = np.arange(12) - 0.5
    hist = np.stack([np.histogram(r, bins)[0] for r in rep]) / len(data.y)
    a1.fill_between(range(11), *np.quantile(hist, [0.05, 0.95], axis=0), step="mid",
                    alpha=0.35, label="replicated 90 %")
    a1.step(range(11), np.histogram(data.y, bins)[0] / len(data.y), where="mid", color="k",
            label="observed")
    a1.set(xlabel="score (NRS 0-10)", ylabel="share of scores", title="Score distribution")
    a1.legend()
    week = (data.design.t // 7).astype(int)
    weeks = np.unique(week)
    obs_mean = np.array([data.y[week == w].mean() for w in weeks])
    rep_mean = np.stack([rep[:, week == w].mean(1) for w in weeks], axis=1)
    a2.fill_between(weeks, *np.quantile(rep_mean, [0.05, 0.95], axis=0), alpha=0.35,
                    label="replicated 90 %")
    a2.plot(weeks, obs_mean, "k.-", label="observed")
    a2.set(xlabel="week since first record", ylabel="mean score", title="Mean pain by week")
    a2.legend()
    fig.suptitle(f"Posterior predictive check (one-step): 90 % interval covers "
                 f"{coverage:.0%} of scores")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return {"ppc_coverage_90": coverage}


def plot_population(fitted: FittedModel, path: Path) -> None:
    """Posterior of the population means (natural scale for the reference patient) and more."""
    post = fitted.idata["posterior"].stack(sample=("chain", "draw"))
    nat = transform(post["mu_pop"].values.T, fitted.config)  # the reference patient's
    natural = {
        "base (NRS)": nat["base"], "floor / base": nat["floor"] / nat["base"],
        "course relief (max fraction)": nat["relief"],
        "course relief half-life (d)": nat["relief_tau"] * np.log(2),
        "short relief (max fraction)": nat["quick"],
        "short relief half-life (d)": nat["quick_tau"] * np.log(2),
        "flare, massage (NRS)": nat["flare"], "max durable (fraction)": nat["durable"],
        "natural half-life (d)": post["tau_nat"].values * np.log(2),
        "synergy (extra dose share)": post["synergy"].values,
        "residual SD": post["sigma"].values, "day-to-day share": post["share"].values,
    }
    fig, axes = plt.subplots(3, 4, figsize=(14, 8))
    for ax, (name, x) in zip(axes.flat, natural.items(), strict=True):
        ax.hist(x, bins=40, color="tab:blue", alpha=0.7)
        q = np.quantile(x, [0.05, 0.5, 0.95])
        ax.set_title(f"{name}\n{q[1]:.2f} [{q[0]:.2f}, {q[2]:.2f}]", fontsize=9)
        ax.set_yticks([])
    fig.suptitle(f"Population parameters (reference patient; {len(PARAMS)} patient-level "
                 "parameters), median [90 %]")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_calibration(curves: dict[str, dict[str, float]], path: Path) -> Path:
    """Observed coverage of central intervals against their nominal level, per method."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfect calibration")
    for name, cal in curves.items():
        levels = [float(k) for k in cal]
        ax.plot(levels, list(cal.values()), "o-", lw=2.5 if name == "model" else 1.2,
                label=name)
    ax.set_xlabel("nominal coverage of the central interval")
    ax.set_ylabel("observed coverage of held-out scores")
    ax.set_title("Calibration on held-out future scores")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


TRACE_VARS = ("mu_pop", "tau_nat", "sigma", "share", "ell")


def plot_trace(fitted: FittedModel, path: Path) -> Path:
    """Trace of the population parameters per chain: mixing at a glance."""
    post = fitted.idata["posterior"]
    series = []
    for name in TRACE_VARS:
        x = post[name]
        if x.ndim == 2:
            series.append((name, x.values))
        else:
            for j, label in enumerate(x[x.dims[-1]].values):
                series.append((f"{name}[{label}]", x.values[..., j]))
    fig, axes = plt.subplots(len(series), 1, figsize=(10, 1.1 * len(series)), sharex=True)
    for ax, (name, values) in zip(np.atleast_1d(axes), series, strict=True):
        for chain in values:
            ax.plot(chain, lw=0.4, alpha=0.8)
        ax.set_ylabel(name, rotation=0, ha="right", fontsize=7)
        ax.tick_params(labelsize=6)
    np.atleast_1d(axes)[-1].set_xlabel("stored draw (thinned), one colour per chain")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def save_with_plots(fitted: FittedModel, directory: Path, seed: int,
                    extra: dict[str, Path] | None = None) -> Path:
    """Draw the PPC, population and trace plots, record the PPC coverage in the diagnostics,
    and save the model directory with the plots and `extra` (the CLI's fit and the worker)."""
    from recovery.model.inference.io import save

    with tempfile.TemporaryDirectory() as tmp:
        ppc, pop, trace = (Path(tmp) / n for n in ("ppc.png", "population.png", "trace.png"))
        coverage = plot_ppc(fitted, ppc, np.random.default_rng(seed))
        plot_population(fitted, pop)
        plot_trace(fitted, trace)
        fitted.diagnostics = fitted.diagnostics.model_copy(update=coverage)
        return save(fitted, directory,
                    {"ppc.png": ppc, "population.png": pop, "trace.png": trace, **(extra or {})})
