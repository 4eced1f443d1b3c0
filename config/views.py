"""Project-level views: health, and JSON answers for errors outside DRF's views."""

import logging

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

logger = logging.getLogger(__name__)

HEALTH = inline_serializer(
    "Health", {"status": serializers.CharField(), "database": serializers.CharField()}
)


@extend_schema(
    responses={200: HEALTH, 503: OpenApiResponse(HEALTH, description="The database is down.")},
    auth=[],
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health(request):
    """Liveness for load balancers: 200 when the database answers, 503 when not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("health check: database unreachable")
        return Response(
            {"status": "error", "database": "down"}, status=status.HTTP_503_SERVICE_UNAVAILABLE
        )
    return Response({"status": "ok", "database": "ok"})


def _is_api(request):
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """404: JSON under /api/ like the rest of the API, Django's page elsewhere (admin)."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """500: clients of the API never get an HTML page."""
    if _is_api(request):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return defaults.server_error(request)
