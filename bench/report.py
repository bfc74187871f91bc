"""Regenerate the performance section of docs/performance.md from bench/results/*.json.

The section lies between `<!-- perf:start -->` and `<!-- perf:end -->`; everything in it is
written from measured numbers, with the machine each benchmark recorded.
Usage: python bench/report.py [--readme docs/performance.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from common import growth, model_description

RESULTS = Path("bench/results")
START, END = "<!-- perf:start -->", "<!-- perf:end -->"


def _load(name: str) -> Any:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(str(c) for c in r) + " |" for r in rows), ""]


def fits() -> list[str]:
    runs = [_load(p.name) for p in sorted(RESULTS.glob("fit*.json"))]
    earlier = "earlier version (previous-score likelihood, LKJ block base, floor, relief; " \
        "centred: none)"
    rows = [r | {"_m": d["machine"], "_w": d["weeks"], "_v": d.get("model", earlier),
                 "_c": d.get("commit", "not recorded")} for d in runs if d for r in d["rows"]]
    if not rows:
        return []
    runs_of = sorted({_length(r) for r in rows})
    each = f"{runs_of[0][0]} tuning + {runs_of[0][1]} draws" if len(runs_of) == 1 else \
        "tuning + draws per chain as in the table"
    out = [f"### Fitting (`bench/fit.py`, {rows[0]['_w']:g} weeks of diaries, 2 chains, "
           f"{each})", "",
           "nutpie is the project's fit; pymc is PyMC's default NUTS on the same PyMC model; "
           "numpyro is the NumPyro twin of the model in `bench/numpyro_model.py`. Wall time "
           "includes compilation.", ""]
    out += _table(["patients", "scores", "sampler", "seed",
                   *(["tuning + draws"] if len(runs_of) > 1 else []),
                   "wall s", "min bulk ESS", "ESS / s",
                   "s per ESS", "max R-hat", "divergences", "steps / draw"],
                  [[r["patients"], r["scores"], r["sampler"], r.get("seed", 1),
                    *([" + ".join(map(str, _length(r)))] if len(runs_of) > 1 else []),
                    f"{r['wall_seconds']:.0f}", f"{r['min_ess_bulk']:.0f}",
                    f"{r['min_ess_per_second']:.2f}", f"{r['seconds_per_ess']:.2f}",
                    f"{r['max_rhat']:.3f}", r["divergences"], r.get("steps_per_draw") or "-"]
                   for r in sorted(rows, key=lambda r: (r["patients"], _length(r),
                                                        r["sampler"], r.get("seed", 1)))])
    now = [r for r in rows if r["_v"] == model_description()]
    if len(now) < len(rows):
        out.append("- Rows of an earlier model (see the list below) are shown, but the ratios "
                   "and growth exponents use only rows of the current model.")
    groups: dict[tuple[int, tuple[int, int], str], list[dict[str, Any]]] = {}
    for r in now:  # one sampler's seeds on one cohort size and run length
        groups.setdefault((r["patients"], _length(r), r["sampler"]), []).append(r)
    med = {g: float(np.median([r["min_ess_per_second"] for r in rs])) for g, rs in groups.items()}
    wall = {g: float(np.median([r["wall_seconds"] for r in rs])) for g, rs in groups.items()}
    for n, length in sorted({g[:2] for g in med}):
        rivals = {k: v for (m, ln, k), v in med.items() if (m, ln) == (n, length)
                  and k != "nutpie"}
        if (n, length, "nutpie") in med and rivals:
            best = max(rivals, key=rivals.__getitem__)
            out.append(f"- {n} patients, {length[0]} + {length[1]}: nutpie has "
                       f"{med[n, length, 'nutpie'] / rivals[best]:.2f}x the ESS per second of "
                       f"the better of the others ({best}; its wall time "
                       f"{wall[n, length, best] / wall[n, length, 'nutpie']:.2f}x nutpie's) "
                       "(medians; seeds run: "
                       + ", ".join(f"{g[2]} {len(groups[g])}" for g in sorted(groups)
                                   if g[:2] == (n, length)) + ").")
    spread = max(((max(e) / min(e), g) for g, rs in groups.items()
                  if len(e := [r["min_ess_bulk"] for r in rs]) > 1), default=None)
    if spread:
        n, length, k = spread[1]
        out.append(f"- Min bulk ESS varies up to {spread[0]:.1f}x between seeds of one sampler "
                   f"on one cohort ({k}, {n} patients, {length[0]} + {length[1]}), so ratios "
                   "from a few seeds move by tens of per cent between reruns; wall times move "
                   "far less.")
    short = [r for r in now if _length(r) == runs_of[0]]  # growth on one run length
    for sampler in sorted({g[2] for g in med}):
        sizes = sorted({r["patients"] for r in short if r["sampler"] == sampler})
        if (slope := growth(short, sampler)) is not None:
            out.append(f"- {sampler}: seconds per effective sample grow as patients^"
                       f"{slope:.2f} from {sizes[0]} to {sizes[-1]} "
                       "patients (1 would be linear; medians over seeds).")
    commits = sorted({r["_c"] for r in now})
    if len(commits) > 1:
        out.append(f"- The current model's rows come from {len(commits)} commits "
                   f"({', '.join(commits)}), run at different times: compare samplers within "
                   "one cohort size and commit (run together), and read the growth exponents "
                   "with that in mind.")
    where = sorted({(r["patients"], r["_v"], r["_c"], r["_m"]) for r in rows})
    return [*out, "", *(f"- {n} patients: model {v}; commit {c}; machine {m}."
                        for n, v, c, m in where), ""]


def _length(r: dict[str, Any]) -> tuple[int, int]:
    """A fit row's (tuning, draws) per chain; rows from before --tune tuned as many as drew."""
    return int(r.get("tune", r["draws"])), int(r["draws"])


def scale() -> list[str]:
    return [*_subsample_fits(), *_full_nuts_at_2000()]


def _subsample_fits() -> list[str]:
    d = _load("scale_fit.json")
    if not d:
        return []
    rows = d["rows"]
    out = ["### Cohorts of any size (`bench/scale_fit.py`: NUTS on a stratified subsample "
           "until its gate passes or 20 min run out, then every patient updated and forecast "
           "on a local Dask cluster of 2 workers; held out: 60 new patients' last 6 weeks)", ""]
    table = []
    for r in rows:
        f, u = r["subsample_fit"], r["subsample_fit"]["cohort_update"]
        h = f["heldout"]
        table.append([r["patients"], f"{r['weeks']:g}", r["scores"], f["nuts_patients"],
                      f"{f['wall_seconds'] / 60:.1f}", f"{f['nuts_seconds'] / 60:.1f}",
                      f"{u['seconds'] / 60:.1f}", f"{f['seconds_per_patient']:.2f}",
                      f"{f['max_rhat']:.3f} / {min(f['min_ess_bulk'], f['min_ess_tail']):.0f}"
                      f" / {f['divergences']}", "passed" if f["gate_passed"] else "FAILED",
                      f"{u['ess_min']:.0f} / {u['ess_median']:.0f}",
                      f"{h['crps']:.3f}", f"{h['coverage_90']:.1%}"])
    out += _table(["patients", "weeks", "scores", "NUTS on", "end to end min", "NUTS min",
                   "updates min", "s / patient", "R-hat / min ESS / div.", "gate",
                   "update ESS min / median", "held-out CRPS", "90 % cov."], table)
    same = [r for r in rows if r["weeks"] == 12 and r["patients"] >= 1600
            and r.get("default_subsample")]
    if len(same) >= 2:
        x = np.log([r["patients"] for r in same])
        growth = {part: np.polyfit(x, np.log([f(r) for r in same]), 1)[0] for part, f in (
            ("end to end", lambda r: r["subsample_fit"]["wall_seconds"]),
            ("updates", lambda r: r["subsample_fit"]["cohort_update"]["seconds"]))}
        out += [f"Growth from {same[0]['patients']} to {same[-1]['patients']} patients (12 "
                f"weeks, the default subsample): time grows as patients^"
                f"{growth['end to end']:.2f} end to end and patients^{growth['updates']:.2f} "
                "for the updates (1 is linear; target at most 1.1).", ""]
    target = [r for r in rows if r["patients"] == 2000 and r["weeks"] == 26]
    for r in target:
        out += [f"2000 patients x 26 weeks, NUTS on {r['subsample_fit']['nuts_patients']}: "
                f"{'met' if r['met_target'] else 'NOT met'} (target: under "
                f"{d['target_minutes']:g} min with the gate passing; commit {r['commit']}).", ""]
    compared = [r for r in rows if "subsample_vs_full" in r]
    if compared:
        out += ["Against NUTS on every patient of the same cohort (2 chains, 500 tuning + 500 "
                "draws; it does not pass the gate at these sizes):", ""]
        out += _table(["patients", "full NUTS min", "full R-hat / min ESS", "CRPS subsample / "
                       "full", "90 % cov. subsample / full", "largest mean shift (full SDs)",
                       "posterior SD ratio (median)", "effect 90 % width ratio (median)"],
                      [_versus(r) for r in compared])
    notes = [f"- {r['patients']} x {r['weeks']:g} on {r['subsample']}: {r['note']}."
             for r in rows if "note" in r]
    out += ["Beside the runs:", "", *notes, ""] if notes else []
    commits = ", ".join(f"{r['patients']} x {r['weeks']:g} on {r['subsample']}: {r['commit']}"
                        for r in rows)
    return [*out, f"Commits: {commits}. Machine: {d['machine']}.", ""]


def _versus(r: dict[str, Any]) -> list[Any]:
    f, s, v = r["full_nuts"], r["subsample_fit"], r["subsample_vs_full"]
    widths = [s["population"][k][2] / f["population"][k][2] for k in f["population"]
              if k.startswith("beta")]
    return [r["patients"], f"{f['wall_seconds'] / 60:.1f}",
            f"{f['max_rhat']:.3f} / {min(f['min_ess_bulk'], f['min_ess_tail']):.0f}",
            f"{s['heldout']['crps']:.3f} / {f['heldout']['crps']:.3f} "
            f"({v['crps_relative_difference']:+.1%})",
            f"{s['heldout']['coverage_90']:.1%} / {f['heldout']['coverage_90']:.1%}",
            f"{v['max_abs_mean_shift_in_full_sds']:.2f}", f"{v['median_sd_ratio']:.2f}",
            f"{np.median(widths):.2f}"]


def _full_nuts_at_2000() -> list[str]:
    runs = [r for r in (_load(p.name) for p in sorted(RESULTS.glob("scale_fit_*.json"))) if r]
    if not runs:
        return []
    r = runs[0]
    out = [f"NUTS on every patient of {r['patients']} x {r['weeks']:g} weeks ({r['scores']} "
           f"scores, {r['chains']} chains, {r['tune']} tuning + {r['draws']} draws), measured "
           "before the subsample strategy:", ""]
    for r in runs:
        steps = r.get("mean_steps_so_far")
        out += [f"- Tree depth cap {r.get('maxdepth', 10)}: stopped after "
                f"{r['aborted_after_minutes']:g} min with {r['iterations_done']} of "
                f"{r['tune'] + r['draws']} iterations done"
                + (f" ({steps:g} leapfrog steps per iteration so far)" if steps else "")
                + f"; extrapolated {r['projected_minutes']:g} min. Commit "
                f"{r.get('commit', 'not recorded')}; machine {r['machine']}."]
    return [*out, ""]


def quick_look() -> list[str]:
    q = _load("quick_look.json")
    if not q:
        return []
    return ["### Quick look (`bench/quick_look.py`, ADVI against NUTS)", "",
            f"{q['patients']} simulated patients: ADVI took {q['quick_seconds']:.0f} s against "
            f"{q['nuts_seconds']:.0f} s for NUTS ({q['time_ratio']:.0%}). Population-level "
            f"posterior means were off by {q['mean_error_sd_median']:.2f} NUTS posterior SDs "
            f"(median; worst {q['mean_error_sd_max']:.1f}); its 90 % intervals were "
            f"{q['width_ratio_median']:.0%} of NUTS's width (median; narrowest "
            f"{q['width_ratio_min']:.0%}). Held out (60 fresh patients, 42 days): 90 % coverage "
            f"{q['coverage_90_quick']:.1%} against {q['coverage_90_nuts']:.1%}, CRPS "
            f"{q['crps_quick']:.3f} against {q['crps_nuts']:.3f}. Machine: {q['machine']}.", ""]


def batch() -> list[str]:
    b = _load("forecast_batch.json")
    if not b:
        return []
    out = [f"### Cohort-wide forecasts (`bench/forecast_batch.py`, Dask local cluster, "
           f"{b['schedules']} schedules, {b['horizon_days']} days, {b['draws']} draws)", ""]
    out += _table(["patients", "workers", "seconds", "patients / s", "peak RSS, all MiB",
                   "peak RSS per worker MiB"],
                  [[r["patients"], r["workers"], f"{r['seconds']:.0f}",
                    f"{r['patients_per_second']:.1f}", r["peak_rss_mib_total"],
                    r["peak_rss_mib_worker"]] for r in b["rows"]])
    return [*out, f"Machine: {b['machine']}.", ""]


def latency() -> list[str]:
    f, u, d = _load("forecast.json"), _load("update.json"), _load("dashboard.json")
    out = []
    if f:
        out += ["### Forecast latency (`bench/forecast.py`, one new patient, 10 past sessions, "
                f"{f['schedules']} schedules, {f['draws']} draws)", ""]
        out += _table(["history", "horizon", "median ms", "p95 ms", "share by SMC"],
                      [[f"{r['scores']} scores", f"{r['horizon_days']} days", r["median_ms"],
                        r["p95_ms"], f"{r.get('smc_share', 0):.0%}"] for r in f["rows"]])
        out += ["Targets (median): 150 ms at 30 scores, 400 ms at 120, 1.5 s at 365; p95 within "
                "2x the median.", ""]
        out += [f"Machine: {f['machine']}.", ""]
    if u:
        gap = max(max(r["max_gap_q5"], r["max_gap_median"], r["max_gap_q95"]) for r in u["rows"])
        out += [f"Update against refitting the hierarchy (`bench/update.py`, {len(u['rows'])} "
                f"unseen patients): largest gap of the 5/50/95 % quantiles over 90 days "
                f"{gap:.3f} NRS (target at most 0.3), smallest ESS "
                f"{min(r['ess'] for r in u['rows']):.0f} (target at least 400); the refit: "
                f"{u['refit']['wall_seconds']:.0f} s, max R-hat {u['refit']['max_rhat']:.3f}, "
                f"{u['refit']['divergences']} divergences; commit {u['commit']}, "
                f"{u['machine']}. The update runs on the refit's population; the last column "
                "is the gap of an update on the bundled model, which has not seen these "
                "patients (it adds how far they move the population).", ""]
        out += _table(["patient (shape_scores)", "method", "ESS", "update ms",
                       "largest gap q5 / median / q95", "on the bundled model"],
                      [[r["patient"], r.get("method", "importance"), f"{r['ess']:.0f}",
                        r["update_ms"], f"{r['max_gap_q5']:.2f} / {r['max_gap_median']:.2f} / "
                        f"{r['max_gap_q95']:.2f}", r.get("max_gap_on_bundled_model", "")]
                       for r in u["rows"]])
    if d:
        out += [f"Dashboard (`bench/dashboard.py`): click to drawn interactive fan chart, "
                f"{d['scores']} scores: median {d['median_ms'] / 1000:.2f} s, "
                f"p95 {d['p95_ms'] / 1000:.2f} s ({d['machine']}).", ""]
    return out


def answers() -> list[str]:
    a = _load("answers.json")
    if not a:
        return []
    out = [f"### Why, when and how much (`bench/answers.py`, the forecast benchmark's 30-score "
           f"patient, {a['draws']} draws, after warm-up)", ""]
    out += _table(["answer", "median s", "p95 s"],
                  [[r["answer"], r["median_s"], r["p95_s"]] for r in a["rows"]])
    return [*out, "Target: the frontier under 5 s.", "", f"Machine: {a['machine']}.", ""]


def load() -> list[str]:
    b = _load("load.json")
    if not b:
        return []
    out = ["### The service under load (`bench/load.py`, real HTTP on loopback, SQLite, "
           f"{b['seconds_per_phase']:g} s per phase; mix: forecast of a 30-score patient under "
           "3 schedules 20 %, list patients 40 %, add a score 40 %)", ""]
    rows = []
    for r in b["results"]:
        for m in r["mixed"]:
            rt = m["routes"]
            rows.append([r["workers"], m["concurrency"], m["throughput_rps"], m["errors"],
                         m["shed_503"], *(f"{rt[k]['p50_ms']:.0f} / {rt[k]['p99_ms']:.0f}"
                                          if k in rt else "-"
                                          for k in ("forecast", "list", "add_score"))])
    out += _table(["processes", "clients", "requests/s", "errors", "shed (503)",
                   "forecast p50 / p99 ms", "list p50 / p99 ms", "add score p50 / p99 ms"], rows)
    out += ["| processes | one forecast (ms) | forecasts/s at 8 clients | cores / one "
            "forecast | share (target >= 80 %) | CPU s per forecast | share of what that CPU "
            "allows | non-forecast p99 at 32 clients (target < 2 s) |",
            "|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['workers']} | {r['single_forecast_ms']:.0f} | {r['forecast_throughput_c8']} "
            f"| {r['ideal_throughput']} | {r['throughput_share']:.0%} | "
            f"{r.get('cpu_seconds_per_forecast', '-')} | "
            f"{r.get('share_of_cpu_capacity', 0):.0%} | "
            f"{r['non_forecast_p99_ms_c32'] / 1000:.2f} s |" for r in b["results"]]
    out += ["", f"Commit {b['commit']}; {b['machine']}; {b['note']}; the per-user forecast "
            "limit lifted for the run.", ""]
    return out


def abuse() -> list[str]:
    """bench/abuse.py on each database: worst /healthz per attack, 5xx, RSS growth."""
    runs = [r for r in (_load("abuse.json"), _load("abuse_postgresql.json")) if r]
    if not runs:
        return []
    out = ["### An attacker's share (`bench/abuse.py`, two server processes on one database: "
           "A attacked from a patient login, B writing a score every 0.1 s, /healthz probed "
           "on both all the while; targets: worst /healthz < 0.5 s, 0 5xx from B, RSS growth "
           "< 200 MB a request)", ""]
    attacks = list(runs[0]["summary"]["health_worst_by_attack"])
    rows = [[r["database"], *(f"{w['a']:.2f} / {w['b']:.2f}" for w in (
        r["summary"]["health_worst_by_attack"].get(k, {"a": 0, "b": 0}) for k in attacks)),
        r["summary"]["b_5xx"], r["summary"]["a_5xx"], f"{r['summary']['rss_growth_mb']:.0f}",
        "yes" if r["summary"]["lockout_spares_the_rightful_user"] else "no"] for r in runs]
    out += _table(["database", *(f"worst /healthz A / B (s): {k}" for k in attacks),
                   "5xx from B", "5xx from A", "A's RSS growth, worst request (MB)",
                   "lockout spares the rightful user"], rows)
    dense = runs[0]["dense"]
    refused = [v for k, v in dense.items() if k != "heaviest allowed forecast"]
    heavy = dense["heaviest allowed forecast"]
    out += [f"Dense schedules ({len(refused)} requests: every_days 1e-5, 1e-7 and 3e-5 over "
            "156 weeks, 100 phases, 100 phases x 12 schedules, 12 schedules of 2,100 sessions, "
            "13 schedules; on /v1/forecast, a record's forecast and explain) were all refused "
            f"with 422, the slowest in {max(v['seconds'] for v in refused):.2f} s; the heaviest "
            f"forecast the budget allows (5,000 draws x 1,096 days, 2,184 sessions) took "
            f"{heavy['seconds']:.0f} s on the busy machine and grew A by "
            f"{heavy['rss_growth_mb']:.0f} MB. The Bundle column is the FHIR import's (4 at "
            "once, 2,100 Observations each); B's 5xx by attack: "
            + "; ".join(f"{r['database']} " + ", ".join(
                f"{k} {w.get('b_5xx', '?')}" for k, w in r["summary"][
                    "health_worst_by_attack"].items()) for r in runs) + ". Commits "
            f"{', '.join(sorted({r['commit'] for r in runs}))}; {runs[0]['machine']}, shared "
            "with other work (1-minute load average before and after: " + "; ".join(
                f"{r['database']} {'-'.join(map(str, r.get('load_average', ['?'])))}"
                for r in runs) + ").", ""]
    return out


def recovery() -> list[str]:
    out: list[str] = []
    for world in ("evidence", "articles"):
        r = _load(f"recovery-{world}.json")
        if not r:
            continue
        d, rows = r["diagnostics"], r["rows"]
        missed = [x["parameter"] for x in rows if not x["covered"]]
        out += [f"### Parameter recovery, {world} world (`bench/param_recovery.py --world "
                f"{world}`, {r['patients']} simulated patients, {r['weeks']:g} weeks, "
                f"{d['chains']} chains, {d['tune']} tuning + {d['draws']} draws)", "",
                f"{len(rows) - len(missed)} of {len(rows)} population parameters inside their "
                f"90 % intervals (missed: {', '.join(missed) or 'none'}); max R-hat "
                f"{d['max_rhat']:.3f}, min ESS {d['min_ess_bulk']:.0f}, {d['divergences']} "
                f"divergences, {d['wall_seconds']:.0f} s ({r.get('machine', '?')}).", "",
                *_sd_rows(rows)]
    return out


def _sd_rows(rows: list[dict]) -> list[str]:
    """The between-patient SDs' truth against the posterior, which their priors shape most."""
    sds = [x for x in rows if x["parameter"].startswith("patient_sd[")]
    if not sds:
        return []
    return ["| between-patient SD | truth | median | 90 % interval |", "|---|---|---|---|",
            *[f"| {x['parameter'][11:-1]} | {x['truth']:.2f} | {x['median']:.2f} | "
              f"{x['q5']:.2f}-{x['q95']:.2f} |" for x in sds], ""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readme", type=Path, default=Path("docs/performance.md"))
    args = ap.parse_args()
    body = [*fits(), *scale(), *quick_look(), *batch(), *latency(), *answers(), *load(),
            *abuse(), *recovery()]
    text = args.readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    args.readme.write_text(head + START + "\n" + "\n".join(body) + END + tail)
    print(f"rewrote the performance section of {args.readme} ({len(body)} lines)")


if __name__ == "__main__":
    main()
