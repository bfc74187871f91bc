"""The HTTP layer: one router module per area in `routes/`, the shared dependencies (who is
signed in, which patient, the served model) in `deps.py`, and domain errors mapped to HTTP
responses in `errors.py`."""
