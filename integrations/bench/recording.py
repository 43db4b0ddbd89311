"""Every HTTP request the portal sends during a cycle, recorded in the bench process only.

The clients build their own ``requests`` sessions, so the hook sits one level below them:
``HTTPAdapter.send``, wrapped for the duration of the ``with`` block. Product code is not
touched and nothing changes for it: the wrapper calls the real ``send`` and returns its
response. Only requests to the sandbox's vendor paths are kept (not its control API).

Kept per request: method, URL, headers, body, status, start and end times, and the response
body when it is small (replay learns the session identifiers the vendor handed out from it;
the large export files are never needed). The requests are spooled to a temporary file, not
kept in memory, so that the worker's peak memory is the portal's, not the recording's.
"""

import pickle
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from requests.adapters import HTTPAdapter

SMALL_BODY = 4096
# In-body answers that mean "over the vendor's limit" although the HTTP status may be 200
# (Expensify's responseCode 429). Later vendors' codes go here (BILL answers BDC_ codes).
LIMIT_MARKERS = (b'"responseCode": 429', b'"responseCode":429')


@dataclass
class Sent:
    method: str
    url: str
    headers: dict
    body: bytes | None
    status: int | None  # None: no answer (connection error, timeout)
    started: float
    ended: float
    content: bytes | None  # the response body when at most SMALL_BODY bytes
    content_type: str = ""

    @property
    def vendor_limited(self):
        return self.status == 429 or bool(self.content and any(m in self.content for m in LIMIT_MARKERS))


class Recorder:
    def __init__(self, base_url):
        self.prefix = base_url.rstrip("/") + "/"
        self.control = self.prefix + "_sandbox/"
        self.count = 0
        self._spool = tempfile.TemporaryFile()
        self._lock = threading.Lock()

    def wants(self, url):
        return url.startswith(self.prefix) and not url.startswith(self.control)

    def add(self, request, response, started):
        ended = time.perf_counter()
        body = request.body.encode() if isinstance(request.body, str) else request.body
        content = None
        if response is not None and int(response.headers.get("Content-Length") or SMALL_BODY + 1) <= SMALL_BODY:
            content = response.content
        item = Sent(request.method, request.url, dict(request.headers), body,
                    response.status_code if response is not None else None, started, ended, content,
                    response.headers.get("Content-Type", "") if response is not None else "")
        # Pickled before the lock: a thread that loses the GIL while holding the lock would make every
        # other sending thread wait on the instrument, time the portal's run would be charged with.
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._spool.write(data)
            self.count += 1

    def __len__(self):
        return self.count

    def sent(self):
        """Every recorded request, in the order they finished (read back from the spool)."""
        items = []
        with self._lock:
            self._spool.seek(0)
            for _ in range(self.count):
                items.append(pickle.load(self._spool))
            self._spool.seek(0, 2)
        return items

    def close(self):
        self._spool.close()


@contextmanager
def recording(base_url):
    recorder = Recorder(base_url)
    real_send = HTTPAdapter.send

    def send(adapter, request, *args, **kwargs):
        if not recorder.wants(request.url):
            return real_send(adapter, request, *args, **kwargs)
        started = time.perf_counter()
        try:
            response = real_send(adapter, request, *args, **kwargs)
        except Exception:
            recorder.add(request, None, started)
            raise
        recorder.add(request, response, started)
        return response

    HTTPAdapter.send = send
    try:
        yield recorder
    finally:
        HTTPAdapter.send = real_send


def max_in_flight(items):
    """The most requests that were open at the same moment."""
    events = sorted([(s.started, 1) for s in items] + [(s.ended, -1) for s in items], key=lambda e: (e[0], e[1]))
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak
