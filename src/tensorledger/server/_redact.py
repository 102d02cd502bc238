"""What the API never hands out: private keys and (wrapped) data keys, wherever they hide.

The contracts keep no keys on the chain (a dataset names its key by `keyId`
only), but a contract written later, or a value stored with `storeData`, could
hold one; every JSON response passes through `redact` before it is sent.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

REDACTED = "[redacted]"
#: field names that hold key material, in camelCase or snake_case
_FIELD_NAMES = (
    r"(?:wrapped|encrypted)_?(?:data)?_?keys?|private_?keys?|(?:data|secret)_?keys?|secret"
)
#: a secret field inside JSON text (an argument, a value preview), cut or not
_JSON_SECRET = re.compile(rf'("(?i:{_FIELD_NAMES})"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|$)')
SECRET_FIELD = re.compile(rf"^(?:{_FIELD_NAMES})$", re.IGNORECASE)
_PEM_PRIVATE = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.DOTALL
)


def redact(value: Any) -> Any:
    """A copy of a JSON-ready value with secret fields dropped to REDACTED and PEM keys cut."""
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and SECRET_FIELD.match(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        if "PRIVATE KEY" in value:
            value = _PEM_PRIVATE.sub(REDACTED, value)
        if '"' in value:
            value = _JSON_SECRET.sub(rf'\1"{REDACTED}"', value)
    return value


def value_view(raw: bytes) -> dict[str, Any]:
    """A stored value for a client: UTF-8 text (null if binary) and base64, both redacted.

    A JSON value is redacted field by field; the base64 form is of the
    redacted bytes, so the raw secret is not one decode away.
    """
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        cleaned = text
        try:
            parsed = json.loads(text)
        except ValueError:
            cleaned = redact(text)
        else:
            safe = redact(parsed)
            cleaned = json.dumps(safe, separators=(",", ":")) if safe != parsed else redact(text)
        if cleaned != text:
            raw = cleaned.encode("utf-8")
            text = cleaned
    elif b"PRIVATE KEY" in raw:
        raw = REDACTED.encode()
    return {"value": text, "value_base64": base64.b64encode(raw).decode()}
