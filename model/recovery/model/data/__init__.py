"""Cohorts and session schedules: what the model is fitted to and asked about."""
