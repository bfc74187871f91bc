"""Clients nobody here wrote, against a live server: a SMART backend-services token obtained
with authlib (its own private_key_jwt signing) and with fhirclient (the SMART on FHIR client,
finding the token endpoint in the CapabilityStatement's oauth-uris extension); with them,
fhirpy and fhirclient create, search, read and update Patients and Observations, and a
read-only token is refused a write."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fhirclient import client as smart_client
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError
from jwt.algorithms import RSAAlgorithm

from recovery.service.settings import Settings
from tests.live import Server, add_user, token

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption())


def _register(url: str, therapist: int) -> None:
    """An admin registers the clinic system 'clinic-ehr' for the therapist."""
    admin = token(url, "admin", "long password 1")
    public: dict[str, Any] = RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
    r = httpx.post(f"{url}/v1/fhir-clients", headers=admin, json={
        "client_id": "clinic-ehr", "name": "Clinic EHR", "therapist_id": therapist,
        "jwks": {"keys": [{**public, "kid": "k1", "alg": "RS384"}]}})
    assert r.status_code == 201, r.text


def _authlib_token(url: str, scope: str) -> str:
    """A token from authlib's OAuth2 client, its assertion signed by authlib."""
    token_url = f"{url}/fhir/auth/token"
    auth = PrivateKeyJWT(token_url, alg="RS384", headers={"kid": "k1"},
                         claims={"exp": int(time.time()) + 240})
    with OAuth2Client("clinic-ehr", PEM, token_endpoint_auth_method=auth) as oauth:
        oauth.register_client_auth_method(auth)
        got = oauth.fetch_token(token_url, grant_type="client_credentials", scope=scope)
    assert got["expires_in"] <= 300
    return str(got["access_token"])


@pytest.fixture
def live(settings: Settings, tmp_path: Path) -> Any:
    therapist = add_user(settings, "clinic", "long password 1", "therapist")
    add_user(settings, "admin", "long password 1", "admin")
    server = Server(settings, tmp_path / "server.log").start()
    try:
        _register(server.url, therapist)
        yield server.url
    finally:
        server.stop()


def _fhirpy_round_trip(base: str, bearer: str) -> str:
    fhir = SyncFHIRClient(base, authorization=f"Bearer {bearer}")
    mrn = f"MRN-{uuid.uuid4().hex[:8]}"
    patient = fhir.resource("Patient", identifier=[{"system": "urn:clinic", "value": mrn}],
                            name=[{"given": ["Ana"], "family": "Silva"}])
    patient.save()
    assert patient.id
    score = fhir.resource("Observation", status="final", code={"coding": [
        {"system": "http://loinc.org", "code": "72514-3"}]}, subject=patient.to_reference(),
        effectiveDateTime="2026-02-27", valueInteger=7)
    score.save()
    found = fhir.resources("Patient").search(identifier=f"urn:clinic|{mrn}").fetch_all()
    assert [p.id for p in found] == [patient.id]
    scores = fhir.resources("Observation").search(patient=patient.id).fetch_all()
    assert [s["valueInteger"] for s in scores] == [7]
    again = fhir.reference("Observation", score.id).to_resource()
    again["valueInteger"] = 4
    again["status"] = "amended"
    again.save()  # a PUT to its id
    assert fhir.reference("Observation", score.id).to_resource()["valueInteger"] == 4
    return str(patient.id)


def test_fhirpy_and_fhirclient_with_tokens_from_independent_libraries(live: str) -> None:
    base = f"{live}/fhir"
    pid = _fhirpy_round_trip(base, _authlib_token(live, "system/*.read system/*.write"))

    reader = SyncFHIRClient(base, authorization=f"Bearer {_authlib_token(live, 'system/*.rs')}")
    assert reader.reference("Patient", pid).to_resource()["id"] == pid
    with pytest.raises(ForbiddenError, match="forbidden"):  # a read-only token may not write
        reader.resource("Observation", status="final", code={"coding": [
            {"system": "http://loinc.org", "code": "72514-3"}]},
            subject={"reference": f"Patient/{pid}"}, effectiveDateTime="2026-02-27",
            valueInteger=3).save()

    assertion = jwt.encode({"iss": "clinic-ehr", "sub": "clinic-ehr",
                            "aud": f"{live}/fhir/auth/token", "exp": int(time.time()) + 240,
                            "jti": uuid.uuid4().hex}, KEY, algorithm="RS384",
                           headers={"kid": "k1"})
    smart = smart_client.FHIRClient(settings={"app_id": "clinic-ehr", "api_base": base,
                                              "jwt_token": assertion})
    smart.wants_patient = False
    smart.scope = "system/Patient.read system/Observation.read system/Observation.write"
    smart.prepare()  # the token endpoint from the CapabilityStatement
    smart.authorize()
    assert smart.ready
    server = smart.server
    assert Patient.read(pid, server).name[0].family is None  # stored as one text
    (score,) = list(Observation.where(struct={"patient": pid}).perform_resources_iter(server))
    assert score.valueInteger == 4
    made = Observation({"resourceType": "Observation", "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org",
                                             "code": "72514-3"}]},
                        "subject": {"reference": f"Patient/{pid}"},
                        "effectiveDateTime": "2026-02-28", "valueInteger": 6}).create(server)
    assert made is not None
    stored = Observation.read(made["id"], server)
    stored.valueInteger = 5
    stored.update(server)
    values = sorted(o.valueInteger for o in
                    Observation.where(struct={"patient": pid}).perform_resources_iter(server))
    assert values == [4, 5]
