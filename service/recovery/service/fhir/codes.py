"""The codes Recovery reads and writes: the pain scores, the session kinds, their answers and
statuses, and what each status does to a stored entry (docs/fhir.md has the same tables)."""

from __future__ import annotations

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
PAIN_CODE = "72514-3"  # Pain severity - 0-10 verbal numeric rating [Score] - Reported
PAIN_DISPLAY = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
# The pain codes read as a 0-10 score: 72514-3 and 38208-5 ("Pain severity - Reported",
# which clinics record on the same 0-10 numeric scale). Other codes are skipped with a warning.
PAIN_CODES = {(LOINC, "72514-3"), (LOINC, "38208-5")}
# LOINC's answer list for 72514-3 (LL2335-9): answer code -> score
PAIN_ANSWERS = {"LA6111-4": 0, "LA6112-2": 1, "LA6113-0": 2, "LA6114-8": 3, "LA6115-5": 4,
                "LA10137-0": 5, "LA10138-8": 6, "LA10139-6": 7, "LA10140-4": 8,
                "LA10141-2": 9, "LA13942-0": 10}
# units a score may carry (UCUM code or unit text): none, the annotation {score}, or "1"
SCORE_UNITS = {"{score}", "{Score}", "score", "1"}
SESSION_CODES = {"91251008": "physio", "387854002": "massage"}  # SNOMED CT procedure -> kind
SESSION_DISPLAY = {"physio": "Physical therapy procedure", "massage": "Massage"}

# What an Observation's or a Procedure's status does: store (create or replace the entry with
# the same identity), retract (delete it) or skip (nothing stored; a warning for the entry).
OBSERVATION_STATUS = {"final": "store", "amended": "store", "corrected": "store",
                      "preliminary": "store", "entered-in-error": "retract",
                      "cancelled": "retract", "registered": "skip", "unknown": "skip"}
PROCEDURE_STATUS = {"completed": "store", "entered-in-error": "retract", "not-done": "skip",
                    "in-progress": "skip", "preparation": "skip", "on-hold": "skip",
                    "stopped": "skip", "unknown": "skip"}

# this service's own extension (its StructureDefinition is served at
# {public_url}/fhir/StructureDefinition/forecast-bands) and identifier system paths
BANDS_PATH = "/fhir/StructureDefinition/forecast-bands"
RECORD_ID_PATH = "/fhir/sid/record"
MODEL_PATH = "/fhir/sid/model"
