"""Save / load a fitted model directory: ArviZ netCDF with provenance, never pickle.

Layout of MODEL_DIR: posterior.nc (posterior + sample stats; attrs: format version, model id,
Recovery version, configuration JSON, session kinds, cohort fingerprint), diagnostics.json,
cohort/ (the three tables it was fitted on). Writes go to a temporary directory that is renamed
into place, so a model directory is never half-written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import arviz as az
import xarray as xr

from recovery.model.config import ModelConfig
from recovery.model.data.cohort import Cohort
from recovery.model.errors import ModelVersionError
from recovery.model.inference.fit import Diagnostics, FittedModel

__all__ = ["FORMAT_VERSION", "evaluation_of", "load", "model_identity", "save"]

FORMAT_VERSION = "3"  # 3: the natural course from pain onset, no base-floor correlation


def save(fitted: FittedModel, directory: Path | str, extra: dict[str, Path] | None = None) -> Path:
    """Write the model directory atomically; `extra` files (plots) and folders (a subsample
    fit's patients/) are copied in by name."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        idata = fitted.idata.copy()
        idata["posterior"].attrs.update({
            "recovery_format_version": FORMAT_VERSION,
            "recovery_version": version("recovery"),
            "model_id": fitted.model_id,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "config_json": fitted.config.model_dump_json(),
            "kinds_json": json.dumps(fitted.kinds),
            "cohort_fingerprint": fitted.cohort.fingerprint(),
        })
        idata.to_netcdf(str(tmp / "posterior.nc"), engine="h5netcdf")
        (tmp / "diagnostics.json").write_text(fitted.diagnostics.model_dump_json(indent=2))
        fitted.cohort.save(tmp / "cohort")
        for name, path in (extra or {}).items():
            if path.is_dir():
                shutil.copytree(path, tmp / name)
            else:
                shutil.copy(path, tmp / name)
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def evaluation_of(directory: Path | str) -> dict | None:
    """The held-out evaluation report kept in a model directory (evaluation.json), if any."""
    path = Path(directory) / "evaluation.json"
    return json.loads(path.read_text()) if path.is_file() else None


def model_identity(directory: Path | str) -> tuple[str, Diagnostics]:
    """A saved model's id and diagnostics, read from its attributes without its posterior."""
    directory = Path(directory)
    with xr.open_dataset(_posterior_file(directory), group="posterior", engine="h5netcdf") as ds:
        attrs = _checked(dict(ds.attrs), directory)
    return str(attrs["model_id"]), _diagnostics(directory)


def load(directory: Path | str) -> FittedModel:
    """Read a model directory; refuse other format versions and a cohort that does not match."""
    directory = Path(directory)
    idata = az.from_netcdf(str(_posterior_file(directory)), engine="h5netcdf")
    idata["posterior"].load()
    attrs = _checked(idata["posterior"].attrs, directory)
    config = ModelConfig.model_validate_json(attrs["config_json"])
    cohort = Cohort.load(directory / "cohort", config)
    if cohort.fingerprint() != attrs["cohort_fingerprint"]:
        raise ModelVersionError(f"{directory}/cohort does not match the cohort the posterior "
                                "was fitted on (fingerprint differs)")
    return FittedModel(idata, cohort, config, json.loads(attrs["kinds_json"]),
                       _diagnostics(directory), str(attrs["model_id"]))


def _posterior_file(directory: Path) -> Path:
    path = directory / "posterior.nc"
    if not path.exists():
        raise ModelVersionError(f"{directory} is not a model directory (no posterior.nc)")
    return path


def _checked(attrs: dict, directory: Path) -> dict:
    found = attrs.get("recovery_format_version")
    if found != FORMAT_VERSION:
        raise ModelVersionError(f"{directory / 'posterior.nc'}: format version {found!r}, "
                                f"this Recovery reads {FORMAT_VERSION!r}")
    return attrs


def _diagnostics(directory: Path) -> Diagnostics:
    return Diagnostics.model_validate_json((directory / "diagnostics.json").read_text())
