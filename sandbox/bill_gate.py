"""BILL's gate: login sessions and the per-devKey limits, checked before any handler runs.

Facts (developer.bill.com reference/login, docs/api-rate-limits; shared/reference/bill.md):
  * ``POST /v3/login`` with JSON ``username``, ``password``, ``organizationId``, ``devKey`` answers
    ``{"sessionId", "organizationId", "userId", "trusted": false}``; later calls send the headers
    ``devKey`` and ``sessionId``;
  * a session expires after 35 idle minutes and every call resets the timer; expiry is silent: the
    next call gets BDC_1109 "Session is invalid.  Please log in.";
  * 20,000 requests per hour per devKey; past that BDC_1144 until the next clock hour;
  * 3 requests in flight per devKey and organization; the 4th gets BDC_1322 until one finishes.
The fake counts calls in flight itself (the fake class sets ``concurrent = True``, so the sandbox
server does not serialize calls) and holds a slot for the whole call, ``latency_ms`` included.

Config: ``session_idle_seconds`` (2100), ``requests_per_hour`` (20000), ``max_in_flight`` (3),
``latency_ms`` (0: a pause inside each call, so tests can make calls overlap), ``limit_http_status``
(429: the status of BDC_1144 / BDC_1322 answers, UNCONFIRMED).
"""

import secrets
import time
from collections import Counter

from .bill_query import BdcError

SESSION_INVALID = "Session is invalid.  Please log in."


class GateMixin:
    def reset_gate(self):
        self.sessions = {}  # sessionId -> {"dev_key", "org", "user", "last"}
        self.in_flight = Counter()  # (devKey, org) -> calls being served
        self.hour_counts = Counter()  # (devKey, clock hour) -> requests
        self.stats = Counter()

    def _limit(self, code, message):
        return BdcError(int(self.settings.get("limit_http_status") or 429), code, message)

    def enter(self, req, login_body):
        """Count the call against the hourly and in-flight limits; returns the in-flight key."""
        dev_key = (login_body or {}).get("devKey") if login_body is not None else req.headers.get("devkey")
        if dev_key != self.creds["dev_key"]:
            raise BdcError(401, "BDC_1102", "Invalid devKey")
        session = self.sessions.get(req.headers.get("sessionid") or "")
        org = (login_body or {}).get("organizationId") if login_body is not None else (session or {}).get("org", "")
        with self.lock:
            hour = int(self.sandbox.clock() // 3600)
            limit = int(self.settings.get("requests_per_hour") or 20000)
            self.hour_counts[(dev_key, hour)] += 1
            if self.hour_counts[(dev_key, hour)] > limit:
                self.stats["refused_1144"] += 1
                raise self._limit("BDC_1144", f"Max number of allowed requests per hour reached: {limit}.")
            key = (dev_key, org)
            if self.in_flight[key] >= int(self.settings.get("max_in_flight") or 3):
                self.stats["refused_1322"] += 1
                raise self._limit("BDC_1322", "Max number of concurrent requests per organization reached.")
            self.in_flight[key] += 1
            self.stats["peak_in_flight"] = max(self.stats["peak_in_flight"], self.in_flight[key])
        pause = float(self.settings.get("latency_ms") or 0) / 1000.0
        if pause:
            time.sleep(pause)
        return key

    def leave(self, key):
        with self.lock:
            self.in_flight[key] -= 1

    def session_for(self, req):
        """The caller's live session (its idle timer reset), or BDC_1109."""
        session = self.sessions.get(req.headers.get("sessionid") or "")
        now = self.sandbox.clock()
        idle = float(self.settings.get("session_idle_seconds") or 2100)
        if session is None or session["dev_key"] != req.headers.get("devkey") or now - session["last"] > idle:
            self.sessions.pop(req.headers.get("sessionid") or "", None)
            raise BdcError(401, "BDC_1109", SESSION_INVALID)
        session["last"] = now
        return session

    def login(self, req, body):
        if body.get("username") != self.creds["username"] or body.get("password") != self.creds["password"]:
            raise BdcError(401, "BDC_1101", "Incorrect userName or password")
        if body.get("organizationId") != self.creds["org_id"]:
            raise BdcError(401, "BDC_1101", "The user is not a member of this organization")
        session_id = secrets.token_urlsafe(24)
        self.sessions[session_id] = {
            "dev_key": body["devKey"],
            "org": body["organizationId"],
            "user": self.user_id,
            "last": self.sandbox.clock(),
        }
        return {"sessionId": session_id, "organizationId": body["organizationId"], "userId": self.user_id, "trusted": False}

    def logout(self, req, session):
        self.sessions.pop(req.headers.get("sessionid"), None)
        return {}

    def session_info(self, req, session):
        return {"organizationId": session["org"], "userId": session["user"], "trusted": False}
