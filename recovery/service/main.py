"""The ASGI entry point for uvicorn: `recovery.service.main:app` (settings from the env)."""

from recovery.service.app import create_app

app = create_app()
