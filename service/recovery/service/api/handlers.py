"""The service's error handlers: one renderer for every refusal, JSON under /v1 and an
OperationOutcome under /fhir, naming the field and the rule, never echoing the value."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from recovery.service.api.errors import refusal
from recovery.service.api.routes import fhir
from recovery.service.errors import ServiceError
from recovery.service.fhir.problems import FhirError

__all__ = ["install_handlers"]


def install_handlers(app: FastAPI) -> None:
    """Register the validation and domain-error handlers."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each field and what is wrong, never echoing the values sent (under
        /fhir, as an OperationOutcome)."""
        items = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        if request.url.path.startswith("/fhir"):
            return fhir.refused(FhirError([(".".join(map(str, i["loc"])), i["msg"])
                                           for i in items]))
        return JSONResponse({"detail": jsonable_encoder(items)}, 422)

    @app.exception_handler(ServiceError)
    async def refused(request: Request, exc: ServiceError) -> JSONResponse:
        """A domain error from the record logic, as its HTTP status and message; a refused
        field in FastAPI's own 422 shape; under /fhir, as an OperationOutcome."""
        detail, status = refusal(exc)
        return fhir.render(request, exc) or JSONResponse({"detail": detail}, status)
