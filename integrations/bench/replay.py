"""The recorded requests sent again, in order, with the portal's concurrency: the floor it is compared to.

The replay does nothing but HTTP: no database, no mapping, no decisions. Portal wall time
divided by replay wall time is the portal's overhead ratio (1.0 would mean the portal costs
nothing beyond the calls it has to make).

The sandbox is reset to the same seed before, so the vendors answer as they did, except for
what they make up per session: an AIS token, an export file name. Those are learned from the
answers (the recorded one and the replayed one, identifier by identifier) and swapped into
the requests that follow. An answer that hands one out is a barrier: the requests in flight
finish first, as what follows may carry it.
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import requests

# JSON keys whose values are per-session identifiers (JD Edwards' userInfo.token, Acumatica's and IFS IAM's
# OAuth tokens, BILL's sessionId).
ID_KEYS = ("token", "access_token", "refresh_token", "sessionId")


def handed_out(content, content_type):
    """Identifiers a vendor made up in this answer: a bare short text (a file name), or ``token`` values."""
    if not content:
        return []
    if content_type.startswith("text/plain"):
        text = content.decode("utf-8", "replace").strip()
        return [text] if text and len(text) <= 512 and not any(c.isspace() for c in text) else []
    if "json" in content_type and any(f'"{key}"'.encode() in content for key in ID_KEYS):
        found = []
        _walk(json.loads(content), found)
        return found
    return []


def _walk(value, found):
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ID_KEYS and isinstance(item, str):
                found.append(item)
            else:
                _walk(item, found)
    elif isinstance(value, list):
        for item in value:
            _walk(item, found)


class Swaps:
    """Recorded identifier -> replayed one, in the forms a request may carry it (raw, URL-encoded)."""

    def __init__(self):
        self.pairs = []

    def learn(self, old_ids, new_ids):
        for old, new in zip(old_ids, new_ids, strict=False):
            if old != new:
                for encode in (str, quote_plus, lambda s: quote(s, safe="")):
                    pair = (encode(old), encode(new))
                    if pair not in self.pairs:
                        self.pairs.append(pair)

    def text(self, value):
        for old, new in self.pairs:
            value = value.replace(old, new)
        return value

    def body(self, value):
        if not value or not self.pairs:
            return value
        for old, new in self.pairs:
            value = value.replace(old.encode(), new.encode())
        return value


@dataclass
class Replayed:
    requests: int
    seconds: float
    cpu_seconds: float  # this process's, every thread: what sending the requests alone costs in CPU
    concurrency: int
    status_mismatches: int
    no_answer: int


def replay(recorded, concurrency, timeout=(5.0, 60.0)):
    swaps = Swaps()
    local = threading.local()

    def send(item):
        session = getattr(local, "session", None) or _new_session(local)
        headers = {k: swaps.text(v) for k, v in item.headers.items()}
        try:
            return session.request(item.method, swaps.text(item.url), headers=headers, data=swaps.body(item.body),
                                   timeout=timeout, allow_redirects=False)
        except requests.RequestException:
            return None

    answers = []
    started, cpu_started = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="replay") as pool:
        in_flight = []
        for item in recorded:
            old_ids = handed_out(item.content, item.content_type)
            if not old_ids:
                in_flight.append((item, pool.submit(send, item)))
                continue
            answers += [(sent, future.result()) for sent, future in in_flight]
            in_flight = []
            response = send(item)
            if response is not None:
                swaps.learn(old_ids, handed_out(response.content, response.headers.get("Content-Type", "")))
            answers.append((item, response))
        answers += [(sent, future.result()) for sent, future in in_flight]
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return Replayed(
        requests=len(answers), seconds=seconds, cpu_seconds=cpu_seconds, concurrency=max(1, concurrency),
        status_mismatches=sum(1 for sent, r in answers if r is not None and r.status_code != sent.status),
        no_answer=sum(1 for _, r in answers if r is None),
    )


def _new_session(local):
    local.session = requests.Session()
    return local.session
