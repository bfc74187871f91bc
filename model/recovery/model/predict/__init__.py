"""One patient's forecasts: the population draws, the new-patient update, and what is built on
them (schedule forecasts, optimised schedules, the frontier, booking, explanations, batches)."""
