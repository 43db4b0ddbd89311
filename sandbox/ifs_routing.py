"""Routing of the IFS fake: which endpoint a request is (its name counts calls and matches faults)."""

import re
from urllib.parse import unquote

TOKEN_RE = re.compile(r"^/auth/realms/([^/]+)/protocol/openid-connect/token$")
PROJECTION_RE = re.compile(r"^/(?:main|int)/ifsapplications/projection/v1/(\w+)\.svc(?:/(.*))?$")
SEGMENT_RE = re.compile(r"^(\w+)(?:\((.*)\))?$")


class Route:
    def __init__(self, endpoint, projection=None, entity_set=None, key=None, navigation=None, action=None):
        self.endpoint, self.projection, self.entity_set = endpoint, projection, entity_set
        self.key, self.navigation, self.action = key, navigation, action


def resolve(req, projections):
    """The Route of a request, or None (404)."""
    if TOKEN_RE.match(req.path):
        return Route("token") if req.method == "POST" else None
    match = PROJECTION_RE.match(req.path)
    if not match or match.group(1) not in projections:
        return None
    projection, rest = match.group(1), unquote(match.group(2) or "")
    sets = projections[projection]
    if rest in ("", "/"):
        return Route("service", projection) if req.method == "GET" else None
    if rest == "$metadata":
        return Route("$metadata", projection) if req.method == "GET" else None
    segments = rest.split("/")
    head = SEGMENT_RE.match(segments[0])
    if not head or head.group(1) not in sets or len(segments) > 2:
        return None
    entity_set, key = sets[head.group(1)], head.group(2)
    if len(segments) == 1:
        verb = {"GET": "read", "PATCH": "update", "DELETE": "delete"}.get(req.method)
        if key is None and req.method != "GET":
            verb = "create" if req.method == "POST" else None
        return Route(f"{verb}:{entity_set.name}", projection, entity_set, key) if verb else None
    tail = segments[1]
    if key is not None and tail in entity_set.navigation and req.method == "GET":
        return Route(f"read:{entity_set.navigation[tail]}", projection, entity_set, key, navigation=tail)
    prefix = f"IfsApp.{projection}."
    if key is not None and tail.startswith(prefix) and req.method == "POST":
        return Route(f"action:{tail[len(prefix) :]}", projection, entity_set, key, action=tail[len(prefix) :])
    return None
