"""The lcore control protocol's requests as JSON Schemas (draft 2020-12), checked before any
request reaches the datapath: a wrong type, a missing or unknown field, a too-long list or
a too-deep nesting is answered with one line naming the field, and nothing runs.

Pure: parse_request(line) -> dict, or raises ConfigError. Values that need the worker's
state (an address that is not one, a pool that does not exist) are still checked, and
named, by the datapath; the schema guarantees the types it receives.
"""
from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from fdirlab import limits
from lcore.errors import ConfigError
from lcore.tcp_state import Timeouts

MAX_DEPTH = 4                # {"servers": [{"addr": ...}]} is 3 deep; nothing needs more
MAX_SERVERS = 1024
MAX_LADDRS = 4096
MAX_CONNS_DUMP = 100000
MAX_ERROR = 200              # characters of a schema message quoted back

_ADDR = {"type": "string", "maxLength": 64}
_PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
_PROTO = {"enum": ["tcp", "udp"]}
_SERVICE_KEY = {"vip": _ADDR, "vport": _PORT, "proto": _PROTO}
_SCHED = {"type": "string", "maxLength": 16}
_WEIGHT = {"type": "integer"}


def _op(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    props = {"op": {"type": "string"}, **required, **(optional or {})}
    return {"type": "object", "properties": props, "required": ["op", *required],
            "additionalProperties": False}


OPS: dict[str, dict[str, Any]] = {
    "info": _op({}),
    "pool_add": _op({"laddr": _ADDR}, {"slot": {"type": "integer", "minimum": 0, "maximum": 65535}}),
    "pool_del": _op({"laddr": _ADDR}, {"force": {"type": "boolean"}}),
    "pools": _op({}),
    "service_add": _op({
        **_SERVICE_KEY,
        "sched": _SCHED,
        "servers": {"type": "array", "minItems": 1, "maxItems": MAX_SERVERS, "items": {
            "type": "object", "required": ["addr", "port"], "additionalProperties": False,
            "properties": {"addr": _ADDR, "port": _PORT, "weight": _WEIGHT}}},
        "laddrs": {"type": "array", "minItems": 1, "maxItems": MAX_LADDRS, "items": _ADDR},
    }, {"max_trails": {"type": "integer", "minimum": 1, "maximum": MAX_LADDRS}}),
    "service_del": _op(_SERVICE_KEY),
    "service_laddr_add": _op({**_SERVICE_KEY, "laddr": _ADDR}),
    "service_laddr_del": _op({**_SERVICE_KEY, "laddr": _ADDR}),
    "services": _op({}),
    "neigh_add": _op({"addr": _ADDR, "mac": {"type": "string", "maxLength": 32}}),
    "neigh_del": _op({"addr": _ADDR}),
    "neighs": _op({}),
    "stats": _op({}),
    "conns": _op({}, {"limit": {"type": "integer", "minimum": 0, "maximum": MAX_CONNS_DUMP}}),
    "set_timeouts": _op({}, {name: {"type": "number", "exclusiveMinimum": limits.TIMEOUT_EXCL_MIN,
                                    "exclusiveMaximum": limits.TIMEOUT_EXCL_MAX}
                             for name in Timeouts.names()}),
    # ipvsadm (lcore/ipvs_ops.py): -A/-E, -a/-e/-d, --del-laddr, -L --stats, -Z
    "svc_add": _op(_SERVICE_KEY, {"sched": _SCHED}),
    "svc_edit": _op({**_SERVICE_KEY, "sched": _SCHED}),
    "dest_add": _op({**_SERVICE_KEY, "addr": _ADDR, "port": _PORT}, {"weight": _WEIGHT}),
    "dest_edit": _op({**_SERVICE_KEY, "addr": _ADDR, "port": _PORT, "weight": _WEIGHT}),
    "dest_del": _op({**_SERVICE_KEY, "addr": _ADDR, "port": _PORT}),
    "svc_laddr_del": _op({**_SERVICE_KEY, "laddr": _ADDR}),
    "ipvs_stats": _op({}),
    "ipvs_zero": _op({}, _SERVICE_KEY),
}
_ENVELOPE = {"type": "object", "required": ["op"],
             "properties": {"op": {"type": "string", "maxLength": 64}}}
_VALIDATORS = {op: Draft202012Validator(schema) for op, schema in OPS.items()}
_ENVELOPE_VALIDATOR = Draft202012Validator(_ENVELOPE)
for _schema in (*OPS.values(), _ENVELOPE):
    Draft202012Validator.check_schema(_schema)


def depth(obj: Any) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0, {} or [] is 1), iteratively."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        value, d = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            d += 1
            deepest = max(deepest, d)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((v, d) for v in value)
    return deepest


def _field(err: ValidationError) -> str:
    """`servers[0].port` for an error's position in the request."""
    out = ""
    for part in err.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(err: ValidationError) -> str:
    msg = " ".join(err.message.split())
    if len(msg) > MAX_ERROR:
        msg = msg[:MAX_ERROR] + "..."
    where = _field(err)
    return f"field {where}: {msg}" if where else msg


def validate(req: Any) -> dict[str, Any]:
    """Check one decoded request; returns it, or raises ConfigError naming the bad field."""
    if not isinstance(req, dict):
        raise ConfigError(f"request must be a JSON object, got {type(req).__name__}")
    if depth(req) > MAX_DEPTH:
        raise ConfigError(f"request nested deeper than {MAX_DEPTH} levels")
    err = best_match(_ENVELOPE_VALIDATOR.iter_errors(req))
    if err is not None:
        raise ConfigError(f"bad request: {_describe(err)}")
    op = req["op"]
    validator = _VALIDATORS.get(op)
    if validator is None:
        raise ConfigError(f"unknown op {op!r}: use one of {', '.join(OPS)}")
    err = best_match(validator.iter_errors(req))
    if err is not None:
        raise ConfigError(f"op {op}: {_describe(err)}")
    return req


def parse_request(line: bytes) -> dict[str, Any]:
    """Decode and check one request line; ConfigError (one line) when it is not acceptable."""
    try:
        req = json.loads(line)
    except RecursionError:
        raise ConfigError(f"request nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"bad JSON: {str(exc).splitlines()[0]}") from None
    return validate(req)
