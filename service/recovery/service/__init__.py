"""The Recovery service: FastAPI routes over a SQL store, a model registry and refit jobs.

It calls the science only through `recovery.model`'s public API.
"""
