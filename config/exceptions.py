"""One place that turns refusals into the contract's reply shapes."""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from config.errors import Invalid, NotFound, Refused

logger = logging.getLogger(__name__)

# The database cannot be reached (down, restarting, out of connections): a
# 503 with Retry-After, so clients can tell an outage from a bug.
DATABASE_OUTAGE = (OperationalError, InterfaceError)
OUTAGE_DETAIL = "Service temporarily unavailable."
RETRY_AFTER_SECONDS = 5


def api_exception_handler(exc, context):
    if isinstance(exc, NotFound):
        return Response({"message": exc.message}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, Refused):
        return Response({"message": exc.message}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Invalid):
        return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DATABASE_OUTAGE):
        logger.error("database unavailable: %s", exc)
        return Response(
            {"detail": OUTAGE_DETAIL},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DjangoValidationError):
        # Unmapped, a Django ValidationError escaping a model or service is a 500.
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    return exception_handler(exc, context)
