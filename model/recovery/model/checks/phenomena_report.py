"""Run the phenomena cases on a model and write phenomena.md, phenomena.json and a PNG a case."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from recovery.charts import save_fan_chart
from recovery.model.checks.phenomena import CASES, CaseResult, PhenomenaReport, Run, TrialResult
from recovery.model.checks.trials import run_trials
from recovery.model.predict.forecast import Forecaster

__all__ = ["README_END", "README_START", "markdown", "readme_block", "run_phenomena",
           "trials_table", "write_report"]

README_START, README_END = "<!-- phenomena:start -->", "<!-- phenomena:end -->"


def run_phenomena(fc: Forecaster, out_dir: Path | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> PhenomenaReport:
    """Every case of CASES on the model; with out_dir, each case's fan chart as KEY.png."""
    results = []
    for i, case in enumerate(CASES):
        if progress:
            progress(i, len(CASES), case.claim)
        measured, passed, run = case.measure(fc)
        results.append(CaseResult(key=case.key, claim=case.claim, source=case.source,
                                  case=case.case, pass_when=case.pass_when,
                                  measured=measured, passed=bool(passed), note=case.note))
        if out_dir is not None:
            _chart(run, out_dir / f"{case.key}.png")
    if progress:
        progress(len(CASES), len(CASES), "trial yardsticks")
    return PhenomenaReport(model_version=fc.model_version, cases=results,
                           passed=sum(r.passed for r in results), total=len(results),
                           trials=run_trials(fc))


def _chart(run: Run, path: Path) -> None:
    """One fan chart: every patient's schedules (labelled) over the first patient's diary."""
    first = next(iter(run.requests.values()))
    forecasts = [f.model_dump() | {"name": f.name if len(run.responses) == 1
                                   else f"{label}: {f.name}"}
                 for label, r in run.responses.items() for f in r.forecasts]
    save_fan_chart(first.history.model_dump(), {"forecasts": forecasts}, first.target_score,
                   path)


def _figures(r: CaseResult) -> str:
    return "; ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in r.measured.items())


def _verdict(r: CaseResult) -> str:
    if r.passed:
        return "**pass**"
    return "**fail**" + (f" (not reproduced: {r.note})" if r.note else "")


def trials_table(trials: list[TrialResult]) -> str:
    """The trial yardsticks as a Markdown table: the published figure and the model's."""
    rows = ["| trial | arms | outcome | published | model | verdict |",
            "|---|---|---|---|---|---|"]
    rows += [f"| {t.trial} | {t.arms} | {t.outcome} | {t.published} | {t.measured:g} | "
             f"{'**' + t.verdict + '**' if t.verdict != 'within' else t.verdict} |"
             for t in trials]
    return "\n".join(rows)


def _trials_section(report: PhenomenaReport) -> str:
    if not report.trials:
        return ""
    within = sum(t.verdict == "within" for t in report.trials)
    return (f"\n\n**Trial yardsticks**: {within} of {len(report.trials)} published figures "
            "are matched (`model/checks/trials.py`: 18 chronic patients differing in age, "
            "stress and adherence, each arm their schedule).\n\n" + trials_table(report.trials))


def markdown(report: PhenomenaReport) -> str:
    """The report as a Markdown table, one row a claim."""
    rows = [f"# Phenomena report\n\nModel `{report.model_version}`: **{report.passed} of "
            f"{report.total}** claims hold. Each row forecasts the case through the served "
            "forecast path; figures are in NRS (0-10) and days unless named otherwise.\n",
            "| claim (source) | case | pass when | measured | result |", "|---|---|---|---|---|"]
    rows += [f"| {r.claim} ({r.source}) | {r.case} | {r.pass_when} | {_figures(r)} | "
             f"{_verdict(r)} [chart]({r.key}.png) |" for r in report.cases]
    return "\n".join(rows) + _trials_section(report) + "\n"


def readme_block(report: PhenomenaReport, folder: str = "docs/phenomena") -> str:
    """The README's table: claim, what passes, what was measured, the verdict."""
    rows = ["| claim | pass when | measured | result |", "|---|---|---|---|"]
    rows += [f"| [{r.claim}]({folder}/{r.key}.png) | {r.pass_when} | {_figures(r)} | "
             f"{_verdict(r)} |" for r in report.cases]
    return (f"{README_START}\n**{report.passed} of {report.total}** claims hold for the bundled "
            f"model `{report.model_version}` ([report]({folder}/phenomena.md)).\n\n"
            + "\n".join(rows) + _trials_section(report) + f"\n{README_END}")


def write_report(fc: Forecaster, out_dir: Path,
                 progress: Callable[[int, int, str], None] | None = None) -> PhenomenaReport:
    """Run the cases and write phenomena.md, phenomena.json and the charts into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = run_phenomena(fc, out_dir, progress)
    (out_dir / "phenomena.json").write_text(report.model_dump_json(indent=1))
    (out_dir / "phenomena.md").write_text(markdown(report))
    return report
