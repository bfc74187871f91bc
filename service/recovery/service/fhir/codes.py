"""The codes Recovery reads and writes: the pain score, the session kinds, their answers."""

from __future__ import annotations

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
PAIN_CODE = "72514-3"  # Pain severity - 0-10 verbal numeric rating [Score] - Reported
PAIN_DISPLAY = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
# LOINC's answer list for 72514-3 (LL2335-9): answer code -> score
PAIN_ANSWERS = {"LA6111-4": 0, "LA6112-2": 1, "LA6113-0": 2, "LA6114-8": 3, "LA6115-5": 4,
                "LA10137-0": 5, "LA10138-8": 6, "LA10139-6": 7, "LA10140-4": 8,
                "LA10141-2": 9, "LA13942-0": 10}
SESSION_CODES = {"91251008": "physio", "387854002": "massage"}  # SNOMED CT procedure -> kind
SESSION_DISPLAY = {"physio": "Physical therapy procedure", "massage": "Massage"}
RECOVERY = "https://recovery.example/fhir"  # this service's own identifiers and extensions
BANDS_EXTENSION = f"{RECOVERY}/StructureDefinition/forecast-bands"
