from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class SecurityHeadersMiddleware:
    """Content security policy and a few headers Django 5.2 does not set itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.MINYI_CSP)
        response.headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(), microphone=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


#: The staff import page's upload URL (minyi.intake.urls), which takes larger bodies.
IMPORT_UPLOAD_PATH = "/staff/import/upload/"


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared body is larger than anything minyi accepts (HTTP 413), before Django
    reads it: an attachment form tops out at count × size plus the text, and nothing else takes more.

    nginx's client_max_body_size does the same in production (deploy/nginx/minyi.conf); this covers the
    embedded server and any proxy that forgets it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = (
            settings.MINYI_ATTACHMENT_MAX_BYTES * settings.MINYI_ATTACHMENT_MAX_COUNT + 2 * 1024 * 1024
        )
        # the staff import page takes whole spreadsheets (streamed to disk by Django's upload handlers)
        self.upload_limit = settings.MINYI_IMPORT_UPLOAD_MAX_BYTES + 1024 * 1024

    def _limit_for(self, request: HttpRequest) -> int:
        return self.upload_limit if request.path == IMPORT_UPLOAD_PATH else self.limit

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > self._limit_for(request):
            return self._too_large(request)
        return self.get_response(request)

    def _too_large(self, request: HttpRequest) -> HttpResponse:
        from django.http import JsonResponse
        from django.utils.translation import gettext as _

        message = _("提交的内容过大（上限 %(n)s MB）。") % {"n": self._limit_for(request) // (1024 * 1024)}
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"error": {"code": "payload_too_large", "message": message, "fields": {}}}, status=413
            )
        return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
