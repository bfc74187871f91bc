"""Cohorts, session schedules and simulated patients: what the model is fitted to and asked
about."""
