"""A doctor's weekly schedule and date overrides (contract Part 5)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes, throttle_classes, throttle_scope
from rest_framework.response import Response

from accounts.permissions import IsDoctor
from config.errors import NotFound
from config.openapi import MESSAGE, ROLE_REFUSALS, THROTTLED
from config.throttles import WriteThrottle
from schedules import services
from schedules.serializers import (
    OverrideChangedSerializer,
    OverrideDeletedSerializer,
    OverrideSerializer,
    ScheduleChangedSerializer,
    ScheduleSerializer,
    changed,
    override_reply,
    schedule_reply,
)

TOO_MANY_OPEN = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='Field errors, or `{"message": "Too many open slots"}` when the change would '
    "leave the doctor more open future slots than MAX_OPEN_SLOTS_PER_DOCTOR; nothing changes.",
)
WEEK = {
    "slot_minutes": 30,
    "weeks_ahead": 4,
    "windows": [
        {"weekday": 0, "start_time": "09:00:00", "end_time": "13:00:00"},
        {"weekday": 0, "start_time": "14:00:00", "end_time": "17:00:00"},
    ],
}


@extend_schema(
    methods=["GET"],
    responses={200: ScheduleSerializer, **ROLE_REFUSALS},
    examples=[OpenApiExample("A week", value=WEEK, response_only=True)],
)
@extend_schema(
    methods=["PUT"],
    request=ScheduleSerializer,
    responses={200: ScheduleChangedSerializer, 400: TOO_MANY_OPEN, 429: THROTTLED, **ROLE_REFUSALS},
    examples=[OpenApiExample("A week", value=WEEK, request_only=True)],
)
@api_view(["GET", "PUT"])
@permission_classes([IsDoctor])
@throttle_classes([WriteThrottle])
@throttle_scope("slots")
def schedule(request):
    """The caller's weekly schedule (GET), or replace it (PUT): the horizon's
    schedule-made slots are brought in step in one transaction, and the reply
    says how many were `made` and `removed` (`kept`: booked or held ones that
    no longer fit, which stay until freed)."""
    if request.method == "GET":
        return Response(schedule_reply(services.schedule_of(request.user)))
    serializer = ScheduleSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    outcome = services.schedule_put(doctor=request.user, **serializer.validated_data)
    return Response(schedule_reply(services.schedule_of(request.user), outcome))


@extend_schema(
    methods=["GET"],
    responses={200: OverrideSerializer(many=True), **ROLE_REFUSALS},
)
@extend_schema(
    methods=["POST"],
    request=OverrideSerializer,
    responses={201: OverrideChangedSerializer, 400: TOO_MANY_OPEN, 429: THROTTLED, **ROLE_REFUSALS},
)
@api_view(["GET", "POST"])
@permission_classes([IsDoctor])
@throttle_classes([WriteThrottle])
@throttle_scope("slots")
def overrides(request):
    """The caller's date overrides from today on (GET), or give a date its own hours
    (POST; `windows` empty closes it; a second POST for a date replaces it)."""
    if request.method == "GET":
        return Response([override_reply(o) for o in services.overrides_of(request.user)])
    serializer = OverrideSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    outcome = services.override_put(doctor=request.user, **data)
    reply = {"date": data["date"].isoformat(), "windows": _hours(data["windows"])}
    return Response(reply | changed(outcome), status=status.HTTP_201_CREATED)


def _hours(windows):
    return [
        {"start_time": w["start_time"].isoformat(), "end_time": w["end_time"].isoformat()}
        for w in windows
    ]


@extend_schema(
    responses={
        200: OverrideDeletedSerializer,
        404: OpenApiResponse(MESSAGE, description='`{"message": "Override not found"}`.'),
        429: THROTTLED,
        **ROLE_REFUSALS,
    },
)
@api_view(["DELETE"])
@permission_classes([IsDoctor])
@throttle_classes([WriteThrottle])
@throttle_scope("slots")
def override_delete(request, date):
    """Delete the caller's override of `date` (YYYY-MM-DD): the day goes back to the
    weekly hours (none when it lies beyond the horizon)."""
    if date is None:
        raise NotFound(services.OVERRIDE_NOT_FOUND)
    outcome = services.override_delete(doctor=request.user, date=date)
    return Response({"date": date.isoformat()} | changed(outcome))
