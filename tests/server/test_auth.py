"""Auth, leaks and limits: refused requests change nothing; no key material leaves the server."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from tensorledger.server.app import create_app
from tensorledger.server.tokens import TokenStore, expiry, token_hash

API = "/api/v1/channels/mychannel"
WRITES = (
    f"{API}/contracts/datacontract/transactions",
    f"{API}/contracts/datasets/transactions",
)
BODY = {"function": "storeData", "args": ["auth-probe", "x"]}


@pytest.mark.parametrize("url", WRITES)
@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("wrong", 401), ("expired", 401), ("read", 403)],
)
def test_writes_refuse_bad_tokens_and_change_nothing(client, served, url, token, status):
    before = served.height()
    headers = {} if token is None else served.auth(token)
    r = client.post(url, headers=headers, json=BODY)
    assert r.status_code == status, r.text
    assert list(r.json()) == ["error"]
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
    assert served.height() == before


def test_malformed_authorization_header_is_401(client, served):
    for value in ("Basic abc", "Bearer", "Bearer   ", served.tokens["write"]):
        r = client.post(WRITES[0], headers={"Authorization": value}, json=BODY)
        assert r.status_code == 401, value


def test_reads_need_a_token_unless_public(client, public_client, served):
    assert client.get(API).status_code == 401
    assert client.get(API, headers=served.auth("expired")).status_code == 401
    assert public_client.get(API).status_code == 200
    assert public_client.get("/api/v1/info").json()["caller"]["scope"] == "public"
    # A bad token is refused even where anonymous reads are allowed.
    assert public_client.get(API, headers=served.auth("wrong")).status_code == 401
    # Public reads never allow writes.
    assert public_client.post(WRITES[0], json=BODY).status_code == 401


def test_revoked_token_is_refused_by_a_running_server(fresh):
    store = TokenStore.for_ledger(fresh.path)
    token, entry = store.add("Org1", "read", "1h")
    with TestClient(create_app(fresh.path)) as c:
        h = {"Authorization": f"Bearer {token}"}
        assert c.get(API, headers=h).status_code == 200
        TokenStore.for_ledger(fresh.path).revoke(entry.id)
        assert c.get(API, headers=h).status_code == 401


def test_token_file_holds_hashes_only(served):
    text = (served.path / "server-tokens.json").read_text()
    for name in ("write", "read", "org2", "admin"):
        assert served.tokens[name] not in text
        assert token_hash(served.tokens[name]) in text
    assert (served.path / "server-tokens.json").stat().st_mode & 0o077 == 0


def test_expiry_parsing():
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert expiry("30d", now) == "2026-01-31T00:00:00Z"
    assert expiry("12h", now) == "2026-01-01T12:00:00Z"
    assert expiry("2027-02-03T04:05:06+00:00", now) == "2027-02-03T04:05:06Z"
    from tensorledger.errors import InvalidRequestError

    for bad in ("-1d", "2020-01-01T00:00:00Z", "soon", "0s"):
        with pytest.raises(InvalidRequestError):
            expiry(bad, now)


def _crawl_urls(client, served) -> list[str]:
    h = served.auth("read")
    height = client.get(API, headers=h).json()["height"]
    urls = ["/api/v1/info", "/api/v1/health", API, f"{API}/blocks?limit=100", f"{API}/checkpoint"]
    urls += [f"{API}/blocks/{n}" for n in range(height)]
    for n in range(height):
        for tx in client.get(f"{API}/blocks/{n}", headers=h).json()["transactions"]:
            urls.append(f"{API}/transactions/{tx['tx_id']}")
            if tx["leaf"] is not None:
                urls.append(f"{API}/proofs/transactions/{tx['tx_id']}")
            for w in tx["writes"]:
                urls.append(f"{API}/state/{w['namespace']}/{w['key']}")
                urls.append(f"{API}/history/{w['namespace']}/{w['key']}")
    urls += [f"{API}/datasets", f"{API}/datasets/cohort", f"{API}/models", f"{API}/models/fraud"]
    urls += [f"{API}/analyses", f"{API}/analyses/ols-1", f"{API}/jobs", f"{API}/budgets/cohort"]
    urls += [
        f"{API}/lineage/any/cohort",
        f"{API}/lineage/model/fraud",
        f"{API}/proofs/consistency?old=1",
    ]
    urls.append("/api/v1/openapi.json")
    return urls


def _secrets_of(path) -> list[str]:
    """Every private key and data key on disk, as text that must never appear in a response."""
    found = []
    for f in path.rglob("*"):
        if f.is_file() and (f.name.endswith("_sk") or "priv" in f.name or f.suffix == ".key"):
            found.append(f.read_bytes())
        elif f.is_file() and f.suffix == ".pem" and b"PRIVATE KEY" in f.read_bytes():
            found.append(f.read_bytes())
    assert found, "the test ledger should hold private keys to look for"
    out = []
    for blob in found:
        body = b"".join(line for line in blob.splitlines() if not line.startswith(b"-----"))
        out.append(body[:40].decode())
    return out


def test_no_response_leaks_a_private_key(client, served):
    secrets = _secrets_of(served.path)
    urls = _crawl_urls(client, served)
    assert len(urls) > 60
    for url in urls:
        r = client.get(url, headers=served.auth("read"))
        assert r.status_code in (200, 404), (url, r.text)
        assert "PRIVATE KEY" not in r.text, url
        for s in secrets:
            assert s not in r.text, url


def test_values_holding_keys_are_redacted(fresh):
    pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBnotarealkeyatall\n-----END EC PRIVATE KEY-----"
    record = json.dumps({"note": "x", "wrappedKey": "c2VjcmV0LWRhdGEta2V5", "owner": "Org1"})
    with TestClient(create_app(fresh.path)) as c:
        for key, value in (("pem", pem), ("wrapped", record)):
            r = c.post(
                WRITES[0],
                headers=fresh.auth("write"),
                json={"function": "storeData", "args": [key, value]},
            )
            assert r.status_code == 200
        h = fresh.auth("read")
        for url in (
            f"{API}/state/datacontract/pem",
            f"{API}/history/datacontract/pem",
            f"{API}/state/datacontract/wrapped",
            f"{API}/history/datacontract/wrapped",
        ):
            text = c.get(url, headers=h).text
            assert "MHcCAQEEIBnotarealkeyatall" not in text and "PRIVATE KEY" not in text
            assert "c2VjcmV0LWRhdGEta2V5" not in text
            assert "redacted" in text
        height = c.get(API, headers=h).json()["height"]
        for n in (height - 2, height - 1):
            text = c.get(f"{API}/blocks/{n}", headers=h).text
            assert "PRIVATE KEY" not in text and "c2VjcmV0LWRhdGEta2V5" not in text


def test_cors_is_off_by_default_and_one_origin_when_asked(served, client):
    h = {**served.auth("read"), "Origin": "https://evil.example"}
    r = client.get(API, headers=h)
    assert "access-control-allow-origin" not in r.headers
    pre = client.options(
        API, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in pre.headers
    with TestClient(create_app(served.path, cors_origin="https://ui.example")) as c:
        ok = c.get(API, headers={**served.auth("read"), "Origin": "https://ui.example"})
        assert ok.headers["access-control-allow-origin"] == "https://ui.example"
        other = c.get(API, headers={**served.auth("read"), "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_large_body_is_413_and_changes_nothing(client, served):
    before = served.height()
    big = {"function": "storeData", "args": ["big", "x" * (1024 * 1024 + 1)]}
    r = client.post(WRITES[0], headers=served.auth("write"), json=big)
    assert r.status_code == 413 and "error" in r.json()

    def chunks():
        for _ in range(20):
            yield b"x" * 65536

    r = client.post(
        WRITES[0],
        headers={**served.auth("write"), "Content-Type": "application/json"},
        content=chunks(),
    )
    assert r.status_code == 413
    assert served.height() == before


def test_bad_bodies_are_400(client, served):
    before = served.height()
    for body in (
        b"{",
        b"[]",
        json.dumps({"args": []}).encode(),
        json.dumps({"function": "storeData", "args": [1]}).encode(),
        json.dumps({"function": "storeData", "args": [], "transient": {"k": "%%"}}).encode(),
    ):
        r = client.post(
            WRITES[0],
            headers={**served.auth("write"), "Content-Type": "application/json"},
            content=body,
        )
        assert r.status_code == 400, (body, r.text)
    assert served.height() == before


def test_undeployed_chaincode_is_404_not_a_write(client, served):
    before = served.height()
    for cc in ("nosuchcc", "_lifecycle"):
        r = client.post(
            f"{API}/contracts/{cc}/transactions", headers=served.auth("write"), json=BODY
        )
        assert r.status_code == 404, r.text
    assert served.height() == before


def test_security_headers(client, served):
    r = client.get(API, headers=served.auth("read"))
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert re.search(r"frame-ancestors 'none'", r.headers["content-security-policy"])
