"""FHIR R4 in and out (R4B models of fhir.resources): transaction Bundles of Patient,
Observation (pain, LOINC 72514-3) and Procedure (massage, physiotherapy) read into records,
and records, forecasts and proposed schedules written as Patient, Observation, Procedure,
RiskAssessment and CarePlan."""
