"""A patient's waitlist entries: list, join, leave."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes, throttle_classes, throttle_scope
from rest_framework.response import Response

from accounts.permissions import IsPatient
from config.openapi import (
    FIELD_ERRORS,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_REFUSALS,
    MESSAGE,
    ROLE_REFUSALS,
    THROTTLED,
)
from config.throttles import WriteThrottle
from doctor import services
from doctor.models import WaitlistEntry
from doctor.serializers import WaitlistEntrySerializer
from idempotency.decorators import idempotent

ENTRY_NOT_FOUND = OpenApiResponse(MESSAGE, description='`{"message": "Waitlist entry not found"}`.')


@extend_schema(
    methods=["GET"], responses={200: WaitlistEntrySerializer(many=True), **ROLE_REFUSALS}
)
@extend_schema(
    methods=["POST"],
    request=WaitlistEntrySerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        201: WaitlistEntrySerializer,
        400: FIELD_ERRORS,
        429: THROTTLED,
        **ROLE_REFUSALS,
        **IDEMPOTENCY_REFUSALS,
    },
)
@api_view(["GET", "POST"])
@permission_classes([IsPatient])
@throttle_classes([WriteThrottle])
@throttle_scope("waitlist")
@idempotent
def waitlist(request):
    """The caller's waitlist entries, newest first (GET), or join a doctor's (POST)."""
    if request.method == "GET":
        entries = WaitlistEntry.objects.filter(patient=request.user).select_related("offer")
        entries = entries.order_by("-created_at", "-id")
        return Response(WaitlistEntrySerializer(entries, many=True).data)

    serializer = WaitlistEntrySerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    entry = services.waitlist_join(patient=request.user, **serializer.validated_data)
    return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


@extend_schema(responses={200: MESSAGE, 404: ENTRY_NOT_FOUND, **ROLE_REFUSALS})
@api_view(["DELETE"])
@permission_classes([IsPatient])
def waitlist_leave(request, entry_id):
    """Leave a waitlist; a live offer is released and passes to the next patient."""
    services.waitlist_leave(entry_id=entry_id, patient=request.user)
    return Response({"message": "Left the waitlist"})
