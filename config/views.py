"""Project-level views: health, and JSON answers for errors outside DRF's views."""

import logging
import sys

from django.core.cache import cache
from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from config.exceptions import DATABASE_OUTAGE, OUTAGE_DETAIL, RETRY_AFTER_SECONDS
from config.throttles import CACHE_ERRORS

logger = logging.getLogger(__name__)

HEALTH = inline_serializer(
    "Health",
    {
        "status": serializers.CharField(),
        "database": serializers.CharField(),
        "cache": serializers.CharField(),
    },
)
HEALTH_CACHE_KEY = "health:probe"


@extend_schema(
    responses={200: HEALTH, 503: OpenApiResponse(HEALTH, description="The database is down.")},
    auth=[],
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health(request):
    """Liveness for load balancers: 503 only when the database is down.

    The cache is reported but never fails the check: without it throttles fail
    open and the API keeps working, so restarting the app would not help.
    """
    database = _database_status()
    body = {
        "status": "ok" if database == "ok" else "error",
        "database": database,
        "cache": _cache_status(),
    }
    if database != "ok":
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    return Response(body)


def _database_status():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("health check: database unreachable")
        return "down"
    return "ok"


def _cache_status():
    # A write and a read back: a hung Redis times out (REDIS_TIMEOUT) instead of stalling.
    try:
        cache.set(HEALTH_CACHE_KEY, "ok", timeout=10)
        answered = cache.get(HEALTH_CACHE_KEY)
    except CACHE_ERRORS as exc:
        logger.warning("health check: cache unreachable: %s", exc)
        return "down"
    return "ok" if answered == "ok" else "down"


def _is_api(request):
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """404: JSON under /api/ like the rest of the API, Django's page elsewhere (admin)."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


# Django's SuspiciousOperation cases that reach handler400, with what the client did wrong.
BAD_REQUESTS = {
    RequestDataTooBig: "Request body too large.",
    TooManyFieldsSent: "Too many query or form parameters.",
    DisallowedHost: "Invalid Host header.",
}


def bad_request(request, exception=None):
    """400 from Django itself (oversized body, too many parameters, bad Host): JSON under /api/."""
    if _is_api(request):
        detail = BAD_REQUESTS.get(type(exception), "Bad request.")
        return JsonResponse({"detail": detail}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    """403 raised outside DRF's views: JSON under /api/."""
    if _is_api(request):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=403
        )
    return defaults.permission_denied(request, exception)


def server_error(request):
    """500: clients of the API never get an HTML page; a database outage is a 503."""
    # Django calls this handler inside its `except` block: the exception is current.
    if isinstance(sys.exc_info()[1], DATABASE_OUTAGE):
        return _service_unavailable(request)
    if _is_api(request):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return defaults.server_error(request)


def _service_unavailable(request):
    if _is_api(request):
        response = JsonResponse({"detail": OUTAGE_DETAIL}, status=503)
    else:
        response = HttpResponse(OUTAGE_DETAIL, content_type="text/plain", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
