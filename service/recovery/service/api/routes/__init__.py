"""One APIRouter per area; `ROUTERS` is the order the app includes them in."""

from recovery.service.api.routes import (
    analyst,
    answers,
    auth,
    fhir_auth,
    fhir_rest,
    forecast,
    ops,
    patients,
    plans,
)

ROUTERS = [*(m.router for m in (auth, patients, plans, answers, forecast, analyst, fhir_rest,
                                ops)),
           fhir_auth.tokens, fhir_auth.discovery, fhir_auth.clients]

__all__ = ["ROUTERS"]
