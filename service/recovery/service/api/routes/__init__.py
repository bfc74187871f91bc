"""One APIRouter per area; `ROUTERS` is the order the app includes them in."""

from recovery.service.api.routes import (
    analyst,
    answers,
    auth,
    fhir,
    forecast,
    ops,
    patients,
    plans,
)

ROUTERS = [*(m.router for m in (auth, patients, plans, answers, forecast, analyst, fhir, ops)),
           fhir.clients]

__all__ = ["ROUTERS"]
