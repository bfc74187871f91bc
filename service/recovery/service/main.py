"""The ASGI entry point for uvicorn: `recovery.service.main:app` (settings from the env).

Every server process imports it, so each one configures its own request logs."""

from recovery.service.app import create_app
from recovery.service.logs import configure_logging
from recovery.service.settings import Settings

settings = Settings()
configure_logging(settings.log_level)
app = create_app(settings)
