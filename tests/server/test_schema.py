"""schemathesis against the published OpenAPI spec: no 5xx, and every answer conforms to it."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tensorledger.server.app import create_app

pytestmark = pytest.mark.slow


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_api_conforms_to_its_spec(served):
    app = create_app(served.path)
    # The SSE stream never ends by design; it has its own tests (test_events.py).
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app).exclude(
        path_regex="/events$"
    )
    headers = {"Authorization": f"Bearer {served.tokens['write']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 24  # every route but the SSE stream

    for operation in operations:

        @settings(
            max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def check(case):
            # Writes as Org1 with a write token: every operation is reachable.
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()


def test_spec_is_published_with_response_models(client):
    spec = client.get("/api/v1/openapi.json").json()
    block = spec["paths"]["/api/v1/channels/{ch}/blocks/{n}"]["get"]["responses"]
    assert block["200"]["content"]["application/json"]["schema"]["$ref"].endswith("BlockDetail")
    assert "401" in block and "404" in block
