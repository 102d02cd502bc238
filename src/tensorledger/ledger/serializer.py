"""The contract API's JSON serializer with a fast path for plain string parameters.

`fabric-chaincode-python` validates every argument and return value against
its JSON schema with `jsonschema`, about 50 µs each. For a parameter or return
whose schema is exactly `{"type": "string"}` and whose value already is a
`str`, that validation cannot fail, so it is skipped; every other case goes
through the official validation unchanged.
"""

from __future__ import annotations

from typing import Any

from tensorledger.ledger.shim import JSONSerializer

_STRING = {"type": "string"}


class FastJSONSerializer(JSONSerializer):
    """`JSONSerializer` that skips validations which cannot fail."""

    def _validate_against_schema(
        self, prop_name: str, typ: Any, string_value: str, obj: Any, compiled_schema: Any
    ) -> Exception | None:
        schema = getattr(compiled_schema, "schema", None)
        if (
            isinstance(obj, str)
            and isinstance(schema, dict)
            and schema.get("properties") == {prop_name: _STRING}
            and set(schema) <= {"properties", "components"}
        ):
            return None
        result: Exception | None = super()._validate_against_schema(
            prop_name, typ, string_value, obj, compiled_schema
        )
        return result
