"""SMART backend services: a clinic system registered by an admin signs an assertion with
its own RSA or EC key and gets a token that imports and exports FHIR for its therapist;
every way an assertion can be wrong is an OAuth invalid_client, and none works twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.helpers import ROOT, Api

TOKEN_URL = "http://testserver/fhir/auth/token"
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EXAMPLE = ROOT / "examples" / "fhir" / "transaction.json"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP384R1())


def _jwks() -> dict[str, Any]:
    rsa_pub: dict[str, Any] = RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True)
    ec_pub: dict[str, Any] = ECAlgorithm.to_jwk(EC_KEY.public_key(), as_dict=True)
    return {"keys": [{**rsa_pub, "kid": "rsa-1", "alg": "RS384"},
                     {**ec_pub, "kid": "ec-1", "alg": "ES384"}]}


def _assertion(alg: str = "RS384", kid: str = "rsa-1", key: Any = RSA_KEY, **claims: Any
               ) -> str:
    now = datetime.now(UTC)
    body = {"iss": "clinic-ehr", "sub": "clinic-ehr", "aud": TOKEN_URL,
            "exp": now + timedelta(minutes=4), "jti": uuid.uuid4().hex} | claims
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def _token(api: Api, assertion: str, **form: str) -> Any:
    return api.client.post("/fhir/auth/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION,
        "client_assertion": assertion, "scope": "system/*.read system/*.write"} | form)


@pytest.fixture
def registered(api: Api) -> Api:
    me = api.client.get("/v1/me", headers=api.as_("t1")).json()
    r = api.client.post("/v1/fhir-clients", headers=api.as_("root"), json={
        "client_id": "clinic-ehr", "name": "Clinic EHR", "therapist_id": me["id"],
        "jwks": _jwks()})
    assert r.status_code == 201, r.text
    assert r.json()["key_ids"] == ["rsa-1", "ec-1"]
    return api


@pytest.mark.parametrize(("alg", "kid", "key"), [("RS384", "rsa-1", RSA_KEY),
                                                 ("ES384", "ec-1", EC_KEY)])
def test_a_clinic_system_signs_in_with_its_key_and_imports(registered: Api, alg: str,
                                                           kid: str, key: Any) -> None:
    api = registered
    config = api.client.get("/fhir/.well-known/smart-configuration").json()
    assert config["token_endpoint"] == TOKEN_URL
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    r = _token(api, _assertion(alg, kid, key))
    assert r.status_code == 200, r.text
    bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert r.json()["expires_in"] > 0
    made = api.client.post("/fhir", headers={**bearer, "Content-Type": "application/fhir+json"},
                           content=EXAMPLE.read_bytes())
    assert made.status_code == 200, made.text
    pid = made.json()["entry"][0]["response"]["location"].split("/")[1]
    assert api.client.get(f"/v1/patients/{pid}", headers=api.as_("t1")).status_code == 200


def test_a_wrong_assertion_is_invalid_client_and_none_works_twice(registered: Api) -> None:
    api = registered
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    wrong = {
        "signed by another key": _assertion(key=other),
        "an unknown kid": _assertion(kid="rsa-9"),
        "HS256": jwt.encode({"iss": "clinic-ehr", "sub": "clinic-ehr", "aud": TOKEN_URL,
                             "exp": now + timedelta(minutes=4), "jti": "h"}, "x" * 32,
                            algorithm="HS256", headers={"kid": "rsa-1"}),
        "RS256": _assertion(alg="RS256"),
        "another audience": _assertion(aud="https://elsewhere.example/fhir/auth/token"),
        "expired": _assertion(exp=now - timedelta(minutes=1)),
        "living an hour": _assertion(exp=now + timedelta(hours=1)),
        "an unknown client": _assertion(iss="someone", sub="someone"),
        "sub not iss": _assertion(sub="t1"),
        "no jti": jwt.encode({"iss": "clinic-ehr", "sub": "clinic-ehr", "aud": TOKEN_URL,
                              "exp": now + timedelta(minutes=4)}, RSA_KEY, algorithm="RS384",
                             headers={"kid": "rsa-1"}),
        "not a JWT": "abc.def",
    }
    for what, assertion in wrong.items():
        r = _token(api, assertion)
        assert r.status_code == 401, (what, r.text)
        assert r.json()["error"] == "invalid_client", what
    once = _assertion()
    assert _token(api, once).status_code == 200
    replay = _token(api, once)
    assert replay.status_code == 401
    assert "used already" in replay.json()["error_description"]
    assert _token(api, _assertion(), grant_type="password").json()["error"] == \
        "unsupported_grant_type"
    assert api.client.delete("/v1/fhir-clients/clinic-ehr",
                             headers=api.as_("root")).status_code == 204
    assert _token(api, _assertion()).status_code == 401  # a revoked client


def test_only_admins_register_and_only_public_keys(api: Api) -> None:
    me = api.client.get("/v1/me", headers=api.as_("t1")).json()
    body = {"client_id": "clinic-2", "name": "C", "therapist_id": me["id"], "jwks": _jwks()}
    assert api.client.post("/v1/fhir-clients", headers=api.as_("t1"), json=body
                           ).status_code == 403
    private: dict[str, Any] = RSAAlgorithm.to_jwk(RSA_KEY, as_dict=True)
    for jwks, why in (({"keys": [{**private, "kid": "p"}]}, "private key"),
                      ({"keys": []}, "JWK Set"), ({"keys": [{"kty": "oct", "k": "x", "kid": "s"}]},
                                                  "RSA or EC")):
        r = api.client.post("/v1/fhir-clients", headers=api.as_("root"),
                            json={**body, "jwks": jwks})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "jwks"]
        assert why in r.json()["detail"][0]["msg"]
    analyst = api.client.get("/v1/users", headers=api.as_("root")).json()
    a1 = next(u["id"] for u in analyst if u["username"] == "a1")
    r = api.client.post("/v1/fhir-clients", headers=api.as_("root"),
                        json={**body, "therapist_id": a1})
    assert r.status_code == 422


def _bearer(api: Api, scope: str) -> dict[str, str]:
    r = _token(api, _assertion(), scope=scope)
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] <= 300  # SMART tokens live 5 minutes at most
    assert r.json()["scope"] == scope
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_scopes_are_enforced_per_resource_type(registered: Api) -> None:
    api = registered
    c = api.client
    writer = _bearer(api, "system/*.write system/Patient.read")
    made = c.post("/fhir", headers=writer, content=EXAMPLE.read_bytes())
    assert made.status_code == 200, made.text
    pid = made.json()["entry"][0]["response"]["location"].split("/")[1]
    assert c.get(f"/fhir/Patient/{pid}", headers=writer).status_code == 200
    assert c.get("/fhir/Observation", headers=writer).status_code == 403  # no read there
    reader = _bearer(api, "system/Observation.rs")
    assert c.get("/fhir/Observation", headers=reader, params={"patient": pid}
                 ).json()["total"] == 3
    refused = c.post("/fhir", headers=reader, content=EXAMPLE.read_bytes())
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert c.get(f"/fhir/Patient/{pid}", headers=reader).status_code == 403
    assert c.get(f"/fhir/Patient/{pid}/$everything", headers=reader).status_code == 403
    assert c.get(f"/v1/patients/{pid}", headers=reader).status_code == 401  # FHIR only
    assert c.delete("/v1/fhir-clients/clinic-ehr", headers=api.as_("root")).status_code == 204
    assert c.get("/fhir/Observation", headers=reader).status_code == 401  # revoked at once


def test_scopes_recovery_does_not_grant_are_refused(registered: Api) -> None:
    for scope in ("banana", "<script>x</script>", "patient/*.read", "user/Observation.read",
                  "system/Practitioner.read", "system/*.rx", "openid",
                  "system/*.read launch/patient"):
        r = _token(registered, _assertion(), scope=scope)
        assert r.status_code == 400, (scope, r.text)
        assert r.json()["error"] == "invalid_scope"
        assert "<script>" not in r.text


def test_aud_is_the_configured_token_url_whatever_the_host(registered: Api) -> None:
    api = registered
    spoofed = "http://evil.example/fhir/auth/token"
    r = api.client.post("/fhir/auth/token", headers={"Host": "evil.example"}, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION,
        "client_assertion": _assertion(aud=spoofed), "scope": "system/*.read"})
    assert r.status_code == 401
    assert _token(api, _assertion(aud=["urn:other", TOKEN_URL])).status_code == 200
    assert _token(api, _assertion(aud=TOKEN_URL.replace("http:", "https:"))).status_code == 401
    for exp in (1e20, -1, "soon"):
        r = _token(api, _assertion(exp=exp))
        assert r.status_code == 401, (exp, r.text)
    for where in ("/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"):
        config = api.client.get(where, headers={"Host": "evil.example"}).json()
        assert config["token_endpoint"] == TOKEN_URL  # never the Host header's


def test_only_sound_public_keys_are_registered(api: Api) -> None:
    me = api.client.get("/v1/me", headers=api.as_("t1")).json()
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p256 = ec.generate_private_key(ec.SECP256R1())
    rsa_pub: dict[str, Any] = RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True)
    private: dict[str, Any] = RSAAlgorithm.to_jwk(RSA_KEY, as_dict=True)
    bad = {
        "RSA-1024": {**RSAAlgorithm.to_jwk(small.public_key(), as_dict=True), "kid": "s"},
        "P-256": {**ECAlgorithm.to_jwk(p256.public_key(), as_dict=True), "kid": "p"},
        "a number as kid": {**rsa_pub, "kid": 7},
        "private members without d": {**{k: v for k, v in private.items() if k != "d"},
                                      "kid": "q"},
        "an RSA key for ES384": {**rsa_pub, "kid": "r", "alg": "ES384"},
    }
    for what, key in bad.items():
        r = api.client.post("/v1/fhir-clients", headers=api.as_("root"), json={
            "client_id": "clinic-k", "name": "K", "therapist_id": me["id"],
            "jwks": {"keys": [key]}})
        assert r.status_code == 422, (what, r.text)
    many = {"keys": [{**rsa_pub, "kid": f"k{i}"} for i in range(11)]}
    r = api.client.post("/v1/fhir-clients", headers=api.as_("root"), json={
        "client_id": "clinic-k", "name": "K", "therapist_id": me["id"], "jwks": many})
    assert r.status_code == 422
