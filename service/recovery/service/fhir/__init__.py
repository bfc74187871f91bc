"""FHIR R4 in and out (R4B models of fhir.resources): transaction, batch and collection
Bundles of Patient, Observation (pain scores) and Procedure (massage, physiotherapy) read into
records, corrections and retractions included; records, forecasts and proposed schedules
read and searched as Patient, Observation, Procedure, RiskAssessment and CarePlan; SMART
backend services with system/ scopes. docs/fhir.md is the reference."""
