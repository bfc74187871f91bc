"""Cohort validation: every problem listed by file, row and column; nothing half-imported."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from recovery.cli import app
from recovery.model import Cohort, CohortError, ModelConfig
from recovery.model.likelihood.build import prepare
from tests.helpers import write_cohort

PATIENTS = "patient_id,chronic,adherence\nA,1,0.5\nB,0,0.8\n"
SESSIONS = "patient_id,day,kind\nA,0,massage\nA,7,physio\nB,2,massage\n"
PAIN = "patient_id,day,score\nA,0,7\nA,1,6\nB,0,5\nB,3.5,4\n"


def problems_of(tmp_path: Path, patients: str = PATIENTS, sessions: str = SESSIONS,
                pain: str = PAIN) -> list[str]:
    with pytest.raises(CohortError) as info:
        Cohort.load(write_cohort(tmp_path, patients, sessions, pain))
    return [str(p) for p in info.value.problems]


def test_a_valid_cohort_loads_sorted_with_kinds(tmp_path: Path) -> None:
    c = Cohort.load(write_cohort(tmp_path, PATIENTS, SESSIONS, PAIN))
    assert c.kinds == ["massage", "physio"]
    assert list(c.pain["score"]) == [7, 6, 5, 4]
    assert c.pain["day"].iloc[-1] == 3.5
    assert np.isnan(c.patients["stress"]).all()  # configured covariate, not given


def test_dates_become_days(tmp_path: Path) -> None:
    ses = "patient_id,date,kind\nA,2026-01-01,massage\n"
    pain = "patient_id,date,score\nA,2026-01-01,7\nA,2026-01-08,5\nB,2026-01-03,6\n"
    c = Cohort.load(write_cohort(tmp_path, PATIENTS, ses, pain))
    assert list(c.pain["day"]) == [0.0, 7.0, 2.0]


def test_unknown_column_is_refused_with_a_hint(tmp_path: Path) -> None:
    (msg,) = problems_of(tmp_path, patients="patient_id,stres\nA,3\nB,4\n")
    assert "patients.csv" in msg
    assert "'stres'" in msg
    assert "covariates" in msg


@pytest.mark.parametrize(("table", "text", "expected"), [
    ("pain", "patient_id,day,score\nA,0,11\n", "line 2, column 'score': 11 is outside [0, 10]"),
    ("pain", "patient_id,day,score\nA,0,seven\n", "line 2, column 'score': not a number: 'seven'"),
    ("pain", "patient_id,day,score\nA,0,6.5\n", "not a whole number"),
    ("pain", "patient_id,day,score\nA,-2,6\n", "line 2, column 'day': -2 is negative"),
    ("pain", "patient_id,day,score\nA,soon,6\n", "column 'day': not a number: 'soon'"),
    ("pain", "patient_id,date,score\nA,31/31/2026,6\n", "column 'date': not a date"),
    ("pain", "patient_id,day,score\n,0,6\n", "line 2, column 'patient_id': missing patient_id"),
    ("pain", "patient_id,day,score\nZ,0,6\n", "patient 'Z' is not in patients"),
    ("pain", "patient_id,day,score\nA,0,6\nA,0,6\n", "line 3: duplicated row (same as line 2)"),
    ("pain", "patient_id,day,score\n", "table is empty"),
    ("pain", "patient_id,score\nA,3\n", "missing required column 'day'"),
    ("sessions", "patient_id,day,kind\nA,0,Deep Tissue!\n", "bad session kind"),
    ("sessions", "patient_id,day\nA,0\n", "column 'kind': missing required column"),
    ("patients", "patient_id,adherence\nA,1.5\nB,0.2\n", "1.5 is outside [0, 1]"),
    ("patients", "patient_id\nA\nA\n", "line 3, column 'patient_id': duplicated patient_id"),
])
def test_each_problem_names_file_line_and_column(tmp_path: Path, table: str, text: str,
                                                expected: str) -> None:
    tables = {"patients": PATIENTS, "sessions": SESSIONS, "pain": PAIN, table: text}
    found = problems_of(tmp_path, **tables)
    assert any(expected in p and p.startswith(table) for p in found), found


def test_every_problem_is_listed_not_just_the_first(tmp_path: Path) -> None:
    pain = "patient_id,day,score\nA,0,11\nA,-1,4\nQ,2,3\nB,1,x\n"
    found = problems_of(tmp_path, pain=pain)
    assert len(found) == 4
    assert [p.split(",")[1].strip() for p in found] == ["line 2", "line 3", "line 4", "line 5"]


def test_parquet_tables_are_read(tmp_path: Path) -> None:
    write_cohort(tmp_path, PATIENTS, SESSIONS, PAIN)
    (tmp_path / "pain.csv").unlink()
    pd.DataFrame({"patient_id": ["A", "B"], "day": [0.0, 1.0], "score": [3, 12]}).to_parquet(
        tmp_path / "pain.parquet")
    with pytest.raises(CohortError, match=r"pain.parquet, row 2, column 'score'"):
        Cohort.load(tmp_path)


def test_missing_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "patients.csv").write_text(PATIENTS)
    with pytest.raises(CohortError, match=r"sessions\.csv: missing") as info:
        Cohort.load(tmp_path)
    assert len(info.value.problems) == 2


def test_fit_cli_refuses_a_bad_cohort_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    cohort = write_cohort(tmp_path, PATIENTS, SESSIONS, "patient_id,day,score\nA,0,12\n")
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["fit", str(cohort), "--out", str(out)])
    assert result.exit_code == 2
    assert "pain.csv, line 2, column 'score'" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_patients_in_any_order_fit_the_events_order() -> None:
    """A patients table not sorted by id (a cohort joined from two) still lines up with its
    events: the model's score grid needs patients in the events' order."""
    patients = pd.DataFrame({"patient_id": ["p2", "p1"], "chronic": [1.0, 0.0]})
    pain = pd.DataFrame({"patient_id": ["p2", "p1", "p1", "p2"], "day": [0, 0, 1, 1],
                         "score": [5, 6, 7, 4]})
    sessions = pd.DataFrame({"patient_id": ["p1"], "day": [0.5], "kind": ["massage"]})
    c = Cohort.from_frames(patients, sessions, pain)
    assert c.patient_ids == ["p1", "p2"]
    data = prepare(c, ModelConfig())
    assert data.grid.valid.sum() == 4
    assert list(data.y[data.grid.index[0, :2]]) == [6.0, 7.0]


def test_yes_no_covariates_accept_true_false(tmp_path: Path) -> None:
    patients = "patient_id,chronic,structural_cause\nA,True,no\nB,false,YES\n"
    write_cohort(tmp_path, patients, SESSIONS, PAIN)
    got = Cohort.load(tmp_path).patients.set_index("patient_id")
    assert got.loc["A", "chronic"] == 1
    assert got.loc["A", "structural_cause"] == 0
    assert got.loc["B", "chronic"] == 0
    assert got.loc["B", "structural_cause"] == 1
    (msg,) = problems_of(tmp_path, patients="patient_id,chronic\nA,maybe\nB,0\n")
    assert "line 2" in msg
    assert "not a number: 'maybe'" in msg


def test_onset_day_gives_each_patient_the_days_of_pain_at_the_first_record(tmp_path: Path
                                                                         ) -> None:
    """`onset_day` is the cohort's day the pain began: A's first record is day 0 and its pain
    began on day -200; B's onset is blank (unknown), so it gets the prior's median for a
    patient who is not on a chronic course."""
    patients = "patient_id,chronic,onset_day\nA,1,-200\nB,0,\n"
    c = Cohort.load(write_cohort(tmp_path, patients, SESSIONS, PAIN))
    cfg = ModelConfig()
    data = prepare(c, cfg)
    assert data.onset[0] == 200.0
    assert data.onset[1] == pytest.approx(np.exp(cfg.priors.log_onset_unknown.mu))
    (msg,) = problems_of(tmp_path, patients="patient_id,onset_day\nA,-99999\nB,0\n")
    assert "line 2, column 'onset_day'" in msg
    assert "outside" in msg
