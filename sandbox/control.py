"""The sandbox's own JSON control API, under ``/_sandbox/``.

    GET    /_sandbox/                  what is served: systems, seed, size, anchor
    GET    /_sandbox/credentials       {system: credentials the fake accepts}
    POST   /_sandbox/reset             {"seed", "size", "anchor": "2026-11-01"} (all optional):
                                       regenerate; clears faults, calls, posted data, clock, config changes
    GET    /_sandbox/calls             {system: {endpoint: count}};  DELETE resets the counters
    POST   /_sandbox/faults            a fault (see sandbox.faults) -> {"id": n, ...}
    GET    /_sandbox/faults            every fault with its counters;  DELETE clears them
    DELETE /_sandbox/faults/<id>       one fault
    GET    /_sandbox/config            the live configuration; POST merges {system: {key: value}}
    GET    /_sandbox/limits            {system: {limit: requests refused for going over it}} for every fake
                                       that enforces a vendor limit (rate, concurrency, seats)
    GET    /_sandbox/clock             {"now": epoch seconds}; POST {"advance": seconds}
    *      /_sandbox/<system>/<sub>    the fake's own control endpoints (fake.control)
"""

from .faults import FaultError
from .http import BadRequest, NotFoundError, json_response


def handle(sandbox, req, subpath):
    parts = [p for p in subpath.split("/") if p]
    head = parts[0] if parts else ""
    method = req.method

    if head == "" and method == "GET":
        return json_response({
            "systems": sorted(sandbox.fakes), "seed": sandbox.seed, "size": sandbox.size,
            "anchor": sandbox.anchor.isoformat(), "url": sandbox.url,
        })
    if head == "credentials" and method == "GET":
        return json_response(sandbox.credentials())
    if head == "reset" and method == "POST":
        body = req.json() if req.body else {}
        if not isinstance(body, dict):
            raise BadRequest("reset expects a JSON object")
        try:
            sandbox.reset(seed=body.get("seed"), size=body.get("size"), anchor=body.get("anchor"))
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"bad reset parameters: {exc}")
        return json_response({"seed": sandbox.seed, "size": sandbox.size, "anchor": sandbox.anchor.isoformat()})
    if head == "calls" and len(parts) == 1:
        if method == "GET":
            return json_response(sandbox.calls.snapshot())
        if method == "DELETE":
            sandbox.calls.reset()
            return json_response({})
    if head == "faults":
        return _faults(sandbox, req, parts[1:])
    if head == "config" and len(parts) == 1:
        if method == "GET":
            return json_response(sandbox.config)
        if method == "POST":
            body = req.json()
            if not isinstance(body, dict):
                raise BadRequest('config expects a JSON object, e.g. {"jde": {"token_lifetime": 1800}}')
            return json_response(sandbox.merge_config(body))
    if head == "limits" and len(parts) == 1 and method == "GET":
        return json_response(limit_breaches(sandbox))
    if head == "clock" and len(parts) == 1:
        if method == "POST":
            body = req.json()
            try:
                sandbox.advance(float(body.get("advance", 0)))
            except (TypeError, ValueError, AttributeError):
                raise BadRequest('clock expects {"advance": seconds}')
        if method in ("GET", "POST"):
            return json_response({"now": sandbox.clock()})
    fake = sandbox.fakes.get(head)
    if fake is not None:
        lock = sandbox._lock_for(head, fake)
        with lock:
            return fake.control(req, "/".join(parts[1:]))
    raise NotFoundError(f"no sandbox control endpoint {method} /_sandbox/{subpath}")


def limit_breaches(sandbox):
    out = {}
    for name, fake in sandbox.fakes.items():
        counter = getattr(fake, "limit_breaches", None)
        if callable(counter):
            with sandbox._lock_for(name, fake):
                out[name] = counter()
    return out


def _faults(sandbox, req, rest):
    method = req.method
    if not rest:
        if method == "GET":
            return json_response(sandbox.faults.list())
        if method == "DELETE":
            sandbox.faults.clear()
            return json_response([])
        if method == "POST":
            body = req.json()
            if not isinstance(body, dict):
                raise BadRequest("a fault is a JSON object")
            try:
                fault = sandbox.faults.add(**body)
            except (FaultError, TypeError, ValueError) as exc:
                raise BadRequest(f"bad fault: {exc}")
            return json_response(fault.as_dict(), 201)
    if len(rest) == 1 and method == "DELETE":
        try:
            removed = sandbox.faults.remove(int(rest[0]))
        except ValueError:
            raise BadRequest("fault id must be an integer")
        if not removed:
            raise NotFoundError(f"no fault {rest[0]}")
        return json_response({"removed": int(rest[0])})
    raise NotFoundError(f"no sandbox control endpoint {method} /_sandbox/faults/{'/'.join(rest)}")
