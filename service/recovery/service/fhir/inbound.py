"""A Bundle (transaction, batch or collection) read into what Recovery stores, entry by
entry, before any database work: each entry becomes a Patient to match or make, a score or
session to store or retract, a skip with a warning (a resource type or code Recovery does not
keep), or its problems, each named by its FHIRPath-like place. Pure: fhir/store.py applies
the result."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from recovery.service.fhir.problems import FhirError, Problem
from recovery.service.fhir.reading import (
    EntryIn,
    PatientIn,
    Skipped,
    read_observation,
    read_patient,
    read_procedure,
)
from recovery.service.fhir.refs import Ref, Target, parse_url

__all__ = ["EntryIn", "FhirError", "ImportPlan", "Item", "PatientIn", "read_bundle"]

READERS = {"Observation": read_observation, "Procedure": read_procedure}
ROW_PREFIX = {"Observation": "score-", "Procedure": "session-"}
TABLE = {"Observation": "score", "Procedure": "session"}


@dataclass
class Item:
    """One Bundle entry as read: what to do with it, or why not."""

    at: str
    type: str | None
    method: str
    action: PatientIn | EntryIn | None = None
    problems: list[Problem] = field(default_factory=list)
    warning: str | None = None
    status: int = 422  # the entry's status when it has problems


@dataclass
class ImportPlan:
    """A Bundle's entries, in Bundle order; `kind` is transaction (all or nothing) or batch
    (each entry on its own; collections are read as batches)."""

    kind: str
    items: list[Item] = field(default_factory=list)

    @property
    def patients(self) -> list[PatientIn]:
        """The Patients read."""
        return [i.action for i in self.items if isinstance(i.action, PatientIn)]

    @property
    def entries(self) -> list[EntryIn]:
        """The scores and sessions read (retractions included)."""
        return [i.action for i in self.items if isinstance(i.action, EntryIn)]

    def problems(self) -> list[Problem]:
        """Every problem of every entry."""
        return [p for i in self.items for p in i.problems]


def _path(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _shell(doc: Any) -> str:
    """The Bundle's type, once its structure (resources aside) is valid R4."""
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        raise FhirError([("Bundle", "send a Bundle resource (resourceType 'Bundle')")])
    entries = doc.get("entry")
    shell = {**doc, "entry": [{k: v for k, v in e.items() if k != "resource"}
                              if isinstance(e, dict) else e for e in entries]
             } if isinstance(entries, list) else doc
    try:
        bundle = Bundle.model_validate(shell)
    except ValidationError as exc:
        raise FhirError([(_path("Bundle", e["loc"]), e["msg"]) for e in exc.errors()]
                        ) from None
    if bundle.type not in ("transaction", "batch", "collection"):
        raise FhirError([("Bundle.type", "send a transaction, batch or collection Bundle")])
    return "transaction" if bundle.type == "transaction" else "batch"


def read_bundle(doc: Any, base: str = "") -> ImportPlan:
    """Every entry of the Bundle read (FhirError only for a Bundle that is not one);
    `base` is this server's FHIR base URL, so absolute references to it resolve."""
    plan = ImportPlan(_shell(doc))
    raw = [e if isinstance(e, dict) else {} for e in doc.get("entry") or []]
    plan.items = [_start(e, i) for i, e in enumerate(raw)]
    local: dict[str, Ref] = {}
    for n, (e, item) in enumerate(zip(raw, plan.items, strict=True)):
        if item.type == "Patient" and not item.problems and item.method != "DELETE":
            _read(item, e, lambda r, at: read_patient(r, at))
            if isinstance(item.action, PatientIn):
                _name_patient(local, e, item.action, Ref("entry", str(n)))
    for e, item in zip(raw, plan.items, strict=True):
        if item.type in READERS and not item.problems:
            _read_entry(item, e, local, base)
    _local_days(plan)
    _fallback_keys(plan, raw)
    return plan


def _local_days(plan: ImportPlan) -> None:
    """A date-time sent in UTC (`Z`) is put on its patient's local day, the offset their
    other entries carry (the most common one), so a later score is never a day earlier."""
    offsets: dict[Any, Counter[timedelta]] = {}
    for e in plan.entries:
        off = e.time.utcoffset() if e.time is not None else None
        if off:
            offsets.setdefault(e.subject, Counter())[off] += 1
    for e in plan.entries:
        if e.time is not None and not e.time.utcoffset() and e.subject in offsets:
            local = timezone(offsets[e.subject].most_common(1)[0][0])
            e.on = e.time.astimezone(local).date()


def _start(e: dict[str, Any], i: int) -> Item:
    """The entry's type and method, or why it cannot be read at all."""
    at = f"Bundle.entry[{i}]"
    request: dict[str, Any] = e["request"] if isinstance(e.get("request"), dict) else {}
    method = str(request.get("method") or "POST")
    resource = e.get("resource")
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    target = parse_url(str(request.get("url") or ""), "") if request.get("url") else None
    kind = kind or (target.type if target else None)
    item = Item(at, kind, method)
    if method in ("GET", "HEAD", "PATCH"):
        item.problems, item.status = [(f"{at}.request.method",
                                       f"{method} is not taken in a Bundle here")], 405
    elif method == "DELETE" and (target is None or kind == "Patient" or kind not in READERS):
        item.problems, item.status = [(f"{at}.request", "DELETE takes Observation/<id>, "
                                       "Procedure/<id> or ?identifier=; records are not "
                                       "deleted through FHIR")], 405
    elif method != "DELETE" and not isinstance(resource, dict):
        item.problems = [(f"{at}.resource", "a resource is needed")]
    elif method != "DELETE" and kind not in ("Patient", *READERS):
        _other_type(item, kind)
    elif target is not None and target.type != kind:
        item.problems = [(f"{at}.request.url", "names another resource type than the "
                                               "entry's resource")]
    return item


def _other_type(item: Item, kind: Any) -> None:
    try:
        get_fhir_model_class(str(kind))
    except (ValueError, KeyError):
        item.problems = [(f"{item.at}.resource.resourceType", "not an R4 resource type")]
        return
    item.warning = (f"{kind}: Recovery keeps Patients, pain Observations and massage or "
                    "physiotherapy Procedures; not stored")


def _read(item: Item, e: dict[str, Any], reader: Any) -> None:
    """Validate the entry's resource by its R4 model and read it with `reader`."""
    at = f"{item.at}.resource"
    try:
        r = get_fhir_model_class(str(item.type)).model_validate(e["resource"])
        item.action = reader(r, at)
    except ValidationError as exc:
        item.problems = [(_path(at, x["loc"]), x["msg"]) for x in exc.errors()]
    except FhirError as exc:
        item.problems = list(exc.problems)
    except Skipped as exc:
        item.warning = str(exc)
    if isinstance(item.action, PatientIn):
        target = _target(e)
        if target is not None and target.id is not None:
            item.action.record_id = target.id
        if target is not None and target.identifier not in (None, *item.action.identifiers):
            item.action.identifiers.insert(0, str(target.identifier))


def _target(e: dict[str, Any]) -> Target | None:
    request: dict[str, Any] = e["request"] if isinstance(e.get("request"), dict) else {}
    return parse_url(str(request.get("url") or ""), "") if request.get("url") else None


def _name_patient(local: dict[str, Ref], e: dict[str, Any], p: PatientIn, ref: Ref) -> None:
    """Every way the Bundle's other entries may point at this Patient."""
    full = e.get("fullUrl")
    if isinstance(full, str) and full:
        local[full] = ref
        if "/Patient/" in full:
            local["Patient/" + full.rsplit("/Patient/", 1)[1]] = ref
    rid = e["resource"].get("id")
    if isinstance(rid, str) and rid:
        local[f"Patient/{rid}"] = ref
    for ident in p.identifiers:
        local[f"identifier:{ident}"] = ref


def _read_entry(item: Item, e: dict[str, Any], local: dict[str, Ref], base: str) -> None:
    """An Observation or Procedure entry: a store, a retraction (by status or DELETE), a
    skip, or its problems; keyed by the request URL, identifiers and fullUrl."""
    kind, target = str(item.type), _target(e)
    if item.method == "DELETE":
        item.action = EntryIn(TABLE[kind], None, retract=True)
    else:
        _read(item, e, lambda r, at: READERS[kind](r, at, local, base))
    entry = item.action
    if not isinstance(entry, EntryIn):
        return
    if target is not None and target.id is not None:
        prefix = ROW_PREFIX[kind]
        number = target.id[len(prefix):] if target.id.startswith(prefix) else ""
        if number.isdigit() and len(number) < 18:
            entry.row_id = int(number)
        else:
            entry.keys.insert(0, f"{kind}/{target.id}")
    elif target is not None and target.identifier is not None:
        entry.keys.insert(0, target.identifier)
    full = e.get("fullUrl")
    if isinstance(full, str) and full and item.method != "DELETE":
        entry.keys.append(full)
    if item.method == "DELETE" and not entry.keys and entry.row_id is None:
        item.action, item.problems = None, [(f"{item.at}.request.url", "name the entry "
                                             "to delete by id or ?identifier=")]


def _fallback_keys(plan: ImportPlan, raw: list[dict[str, Any]]) -> None:
    """Entries with no identifier, id or fullUrl are keyed by their content and how many
    identical ones came before in the Bundle: the same Bundle sent twice stores nothing new,
    and two identical same-day scores in one Bundle are both kept."""
    seen: Counter[str] = Counter()
    for e, item in zip(raw, plan.items, strict=True):
        entry = item.action
        if isinstance(entry, EntryIn) and not entry.keys and entry.row_id is None:
            subject = (e.get("resource") or {}).get("subject")
            content = f"{subject}|{entry.table}|{entry.kind}|{entry.on}|{entry.score}"
            entry.keys.append(f"{content}#{seen[content]}")
            seen[content] += 1
