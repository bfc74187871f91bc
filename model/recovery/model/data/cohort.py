"""Cohort: the three tidy tables (patients, sessions, pain), loaded and validated with
row-level problems.

Every problem is collected (file, row, column, message) and raised together as a
`CohortError`; nothing is returned half-validated. Rows are 1-based data rows (the header
is not counted), so row 1 is the second line of a CSV file: messages say "line 2" for CSVs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recovery.model.config import ModelConfig
from recovery.model.data.schedules import TherapySession
from recovery.model.errors import CohortError, Problem
from recovery.model.requests import History, PainScore, PatientInfo

__all__ = ["TABLES", "Cohort", "patient_request"]

TABLES = ("patients", "sessions", "pain")
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
# pseudonymous ids: nothing a spreadsheet would read as a formula (=, +, -, @ first)
_PATIENT_ID = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}"
_REQUIRED = {"patients": ["patient_id"], "sessions": ["patient_id", "kind"],
             "pain": ["patient_id", "score"]}


@dataclass(frozen=True)
class Cohort:
    """Validated cohort. Days are floats since the earliest date (or as given)."""

    patients: pd.DataFrame  # patient_id, covariates and onset_day (float, NaN = missing)
    sessions: pd.DataFrame  # patient_id, day, kind
    pain: pd.DataFrame  # patient_id, day, score (int 0-10)

    @property
    def patient_ids(self) -> list[str]:
        """Patient ids in the patients table's order."""
        return list(self.patients["patient_id"])

    @property
    def kinds(self) -> list[str]:
        """Session kinds seen in the data, sorted (massage first when present)."""
        kinds = sorted(set(self.sessions["kind"]))
        return sorted(kinds, key=lambda k: (k != "massage", k))

    def only(self, patient_ids: set[str] | list[str]) -> Cohort:
        """The cohort of these patients, with their scores and sessions."""
        keep = lambda f: f[f["patient_id"].isin(patient_ids)].reset_index(drop=True)  # noqa: E731
        return Cohort(keep(self.patients), keep(self.sessions), keep(self.pain))

    def fingerprint(self) -> str:
        """SHA-256 of the canonical CSV form of the three tables (provenance of a fit)."""
        h = hashlib.sha256()
        for name in TABLES:
            h.update(getattr(self, name).to_csv(index=False).encode())
        return h.hexdigest()

    def save(self, directory: Path) -> None:
        """Write the three tables as CSV into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            getattr(self, name).to_csv(directory / f"{name}.csv", index=False)

    @classmethod
    def load(cls, directory: Path | str, config: ModelConfig | None = None) -> Cohort:
        """Read `patients`, `sessions` and `pain` (.csv or .parquet) from a directory."""
        directory = Path(directory)
        frames: dict[str, pd.DataFrame] = {}
        problems: list[Problem] = []
        if not directory.is_dir():
            raise CohortError([Problem(str(directory), None, None, "not a directory")])
        for name in TABLES:
            frame, problem = _read_table(directory, name)
            if problem is not None:
                problems.append(problem)
            else:
                frames[name] = frame
        if problems:
            raise CohortError(problems)
        return cls.from_frames(frames["patients"], frames["sessions"], frames["pain"], config)

    @classmethod
    def from_frames(
        cls, patients: pd.DataFrame, sessions: pd.DataFrame, pain: pd.DataFrame,
        config: ModelConfig | None = None,
    ) -> Cohort:
        """Validate raw tables (strings or numbers) and return a clean cohort."""
        cfg = config or ModelConfig()
        problems: list[Problem] = []
        raw = {"patients": patients, "sessions": sessions, "pain": pain}
        for name, frame in raw.items():
            problems += _check_columns(name, frame, cfg)
        if problems:
            raise CohortError(problems)
        pat = _clean_patients(patients, cfg, problems)
        known = set(pat["patient_id"])
        ses = _clean_events("sessions", sessions, known, problems)
        pn = _clean_events("pain", pain, known, problems)
        if problems:
            raise CohortError(problems)
        origin = _date_origin(ses, pn)
        for frame in (ses, pn):
            if "date" in frame:
                frame["day"] = (frame.pop("date") - origin).dt.total_seconds() / 86400.0
        ses = ses[["patient_id", "day", "kind"]].sort_values(["patient_id", "day"], kind="stable")
        pn = pn[["patient_id", "day", "score"]].sort_values(["patient_id", "day"], kind="stable")
        pat = pat.sort_values("patient_id", kind="stable")  # the events' patient order
        return cls(pat.reset_index(drop=True), ses.reset_index(drop=True),
                   pn.reset_index(drop=True))


def patient_request(row: pd.Series, pain: pd.DataFrame, sessions: pd.DataFrame,
                    covariates: list[str]) -> tuple[History, PatientInfo]:
    """One cohort patient's tables as a forecast request's history and patient (covariates,
    and the day the pain began when the cohort says)."""
    hist = History(pain=[PainScore(day=d, score=int(s)) for d, s in
                         zip(pain["day"], pain["score"], strict=True)],
                   sessions=[TherapySession(day=d, kind=k) for d, k in
                             zip(sessions["day"], sessions["kind"], strict=True)])
    covs = {c: None if pd.isna(row[c]) else float(row[c]) for c in covariates
            if c in row.index and c != "onset_day"}
    onset = row.get("onset_day")
    return hist, PatientInfo(covariates=covs,
                             onset_day=None if onset is None or pd.isna(onset) else float(onset))


def _read_table(directory: Path, name: str) -> tuple[pd.DataFrame, Problem | None]:
    csv, parquet = directory / f"{name}.csv", directory / f"{name}.parquet"
    path = csv if csv.exists() else parquet
    if not path.exists():
        return pd.DataFrame(), Problem(f"{name}.csv", None, None,
                                       f"missing: expected {name}.csv or {name}.parquet")
    try:
        if path.suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        else:
            frame = pd.read_parquet(path)
    except Exception as exc:  # any parser failure is reported as a file-level problem
        return pd.DataFrame(), Problem(path.name, None, None, f"cannot be read: {exc}")
    frame.attrs["file"] = path.name
    return frame, None


def _file(name: str, frame: pd.DataFrame) -> str:
    return str(frame.attrs.get("file", f"{name}.csv"))


def _check_columns(name: str, frame: pd.DataFrame, cfg: ModelConfig) -> list[Problem]:
    file = _file(name, frame)
    cols = [str(c).strip() for c in frame.columns]
    out = [Problem(file, None, c, "missing required column") for c in _REQUIRED[name]
           if c not in cols]
    if name == "patients":
        allowed = {"patient_id", "onset_day", *cfg.covariates}
        hint = "; if it is a covariate, add it to the model configuration's covariates"
    else:
        allowed = {*_REQUIRED[name], "day", "date"}
        hint = f"; {name} takes {sorted(allowed)}"
        if "day" not in cols and "date" not in cols:
            out.append(Problem(file, None, "day", "missing required column 'day' (or 'date')"))
        if "day" in cols and "date" in cols:
            out.append(Problem(file, None, "date", "give either 'day' or 'date', not both"))
    out += [Problem(file, None, c, f"unknown column{hint}") for c in cols if c not in allowed]
    if len(cols) != len(set(cols)):
        out.append(Problem(file, None, None, "duplicated column names"))
    if frame.empty:
        out.append(Problem(file, None, None, "table is empty (no data rows)"))
    return out


def _strip(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    for c in frame.columns:
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]):
            frame[c] = frame[c].astype(str).str.strip()
    return frame


def _ids(name: str, file: str, frame: pd.DataFrame, problems: list[Problem]) -> pd.Series:
    ids = frame["patient_id"].astype(str).str.strip()
    missing = ids.isin(["", "nan", "None", "<NA>"])
    for row in np.flatnonzero(missing):
        problems.append(Problem(file, int(row) + 1, "patient_id", "missing patient_id"))
    for row in np.flatnonzero(~missing & ~ids.str.fullmatch(_PATIENT_ID)):
        problems.append(Problem(file, int(row) + 1, "patient_id",
                                f"bad patient_id {ids.iloc[row][:40]!r}: up to 64 letters, "
                                "digits, '_', '.', ':' or '-', starting with a letter or digit"))
    return ids


def _numbers(file: str, col: str, values: pd.Series, problems: list[Problem],
             low: float | None = None, high: float | None = None,
             missing_ok: bool = False) -> pd.Series:
    """Parse a numeric column, reporting rows that are not numbers or out of [low, high]."""
    text = values.astype(str).str.strip()
    blank = text.isin(["", "nan", "None", "<NA>"])
    num = pd.to_numeric(values.where(~blank), errors="coerce").astype(float)
    for row in np.flatnonzero(num.isna() & ~blank):
        problems.append(Problem(file, int(row) + 1, col, f"not a number: {text.iloc[row]!r}"))
    if not missing_ok:
        for row in np.flatnonzero(blank):
            problems.append(Problem(file, int(row) + 1, col, "missing value"))
    bad = ~np.isfinite(num) & num.notna()
    for row in np.flatnonzero(bad):
        problems.append(Problem(file, int(row) + 1, col, f"not a finite number: {text.iloc[row]}"))
    ok = num.notna() & ~bad
    for row in np.flatnonzero(ok & (((num < low) if low is not None else False)
                                    | ((num > high) if high is not None else False))):
        problems.append(Problem(file, int(row) + 1, col,
                                f"{num.iloc[row]:g} is outside [{low:g}, {high:g}]"
                                if low is not None and high is not None
                                else f"{num.iloc[row]:g} is negative"))
    return num


_YES_NO = {"true": "1", "false": "0", "yes": "1", "no": "0"}


def _clean_patients(frame: pd.DataFrame, cfg: ModelConfig, problems: list[Problem]
                    ) -> pd.DataFrame:
    file = _file("patients", frame)
    frame = _strip(frame)
    out = pd.DataFrame({"patient_id": _ids("patients", file, frame, problems)})
    for row in np.flatnonzero(out["patient_id"].duplicated() & (out["patient_id"] != "")):
        problems.append(Problem(file, int(row) + 1, "patient_id",
                                f"duplicated patient_id {out['patient_id'].iloc[row]!r}"))
    for name, cov in cfg.covariates.items():
        if name in frame:
            values = frame[name]
            if (cov.low, cov.high) == (0, 1):  # a yes/no covariate: True/False/yes/no too
                values = values.map(lambda v: _YES_NO.get(str(v).strip().lower(), v))
            out[name] = _numbers(file, name, values, problems, cov.low, cov.high,
                                 missing_ok=True).to_numpy()
        else:
            out[name] = np.nan
    if "onset_day" in frame:  # the day the pain began (blank: unknown)
        out["onset_day"] = _numbers(file, "onset_day", frame["onset_day"], problems,
                                    -36_500.0, 36_500.0, missing_ok=True).to_numpy()
    return out


def _clean_events(name: str, frame: pd.DataFrame, known: set[str], problems: list[Problem]
                  ) -> pd.DataFrame:
    file = _file(name, frame)
    frame = _strip(frame)
    out = pd.DataFrame({"patient_id": _ids(name, file, frame, problems)})
    for row in np.flatnonzero(~out["patient_id"].isin(known) & (out["patient_id"] != "")):
        problems.append(Problem(file, int(row) + 1, "patient_id",
                                f"patient {out['patient_id'].iloc[row]!r} is not in patients"))
    if "day" in frame:
        out["day"] = _numbers(file, "day", frame["day"], problems, 0.0, None).to_numpy()
    else:
        text = frame["date"].astype(str)
        dates = pd.to_datetime(text, errors="coerce", format="mixed")
        for row in np.flatnonzero(dates.isna()):
            problems.append(Problem(file, int(row) + 1, "date",
                                    f"not a date: {text.iloc[row]!r} (use YYYY-MM-DD)"))
        out["date"] = dates.to_numpy()
    if name == "sessions":
        kinds = frame["kind"].astype(str).str.strip().str.lower()
        for row in np.flatnonzero(~kinds.map(lambda k: bool(_KIND.match(k)))):
            problems.append(Problem(file, int(row) + 1, "kind",
                                    f"bad session kind {frame['kind'].iloc[row]!r}: use a name "
                                    "like 'massage' or 'physio' (letters, digits, _)"))
        out["kind"] = kinds.to_numpy()
    else:
        score = _numbers(file, "score", frame["score"], problems, 0.0, 10.0)
        frac = score.notna() & (score.between(0, 10)) & (score != np.round(score))
        for row in np.flatnonzero(frac):
            problems.append(Problem(file, int(row) + 1, "score",
                                    f"{score.iloc[row]:g} is not a whole number 0-10 (NRS)"))
        # rows already reported (missing, not a number, not finite) hold -1 until refused
        out["score"] = score.where(np.isfinite(score), -1).round().astype(int).to_numpy()
    dup = out.duplicated(keep="first")
    for row in np.flatnonzero(dup):
        first = Problem(file, int(np.flatnonzero((out == out.iloc[row]).all(axis=1))[0]) + 1,
                        None, "")
        same = f"line {first.line}" if first.line else f"row {first.row}"
        problems.append(Problem(file, int(row) + 1, None, f"duplicated row (same as {same})"))
    return out


def _date_origin(*frames: pd.DataFrame) -> pd.Timestamp:
    dates = [f["date"].min() for f in frames if "date" in f and len(f)]
    return min(dates) if dates else pd.Timestamp(0)
