"""Every answer under ``/api/`` is JSON: a machine calling it never gets an HTML error page.

The API's own views answer JSON; this middleware turns whatever else answers an error
there (a 500 page, a CSRF or permission page from some other layer) into
``{"error": <reason>}`` with the same status and headers such as ``Allow`` and
``Retry-After`` kept.
"""

from django.http import JsonResponse

API_PREFIX = "/api/"
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def is_api_path(path):
    return path == API_PREFIX.rstrip("/") or path.startswith(API_PREFIX)


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not is_api_path(request.path) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replacement = JsonResponse({"error": response.reason_phrase.lower()}, status=response.status_code)
        for header in _KEPT_HEADERS:
            if header in response:
                replacement[header] = response[header]
        return replacement
