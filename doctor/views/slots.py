"""A doctor's own slots: list, add one, add a run, toggle, delete."""

from datetime import date

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes, throttle_classes, throttle_scope
from rest_framework.response import Response

from accounts.permissions import IsDoctor
from config.openapi import (
    FIELD_ERRORS,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_REFUSALS,
    MESSAGE,
    PAGE_PARAMETERS,
    ROLE_REFUSALS,
    SLOT_NOT_FOUND,
    THROTTLED,
    list_or_page,
)
from config.throttles import WriteThrottle
from doctor import services
from doctor.filters import OwnSlotFilter, filtered
from doctor.models import TimeSlot
from doctor.pagination import list_response
from doctor.serializers import (
    BulkSlotSerializer,
    OwnSlotSerializer,
    TimeSlotSerializer,
    slot_row_columns,
)
from idempotency.decorators import idempotent


@extend_schema(
    methods=["GET"],
    parameters=[
        OpenApiParameter("date", date, description="Only slots on this day."),
        OpenApiParameter(
            "upcoming", str, enum=["true", "false"], description="true: only slots still to start."
        ),
        *PAGE_PARAMETERS,
    ],
    responses={
        200: list_or_page(OwnSlotSerializer, "OwnSlot"),
        400: FIELD_ERRORS,
        **ROLE_REFUSALS,
    },
)
@extend_schema(
    methods=["POST"],
    request=TimeSlotSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        201: OwnSlotSerializer,
        400: FIELD_ERRORS,
        429: THROTTLED,
        **ROLE_REFUSALS,
        **IDEMPOTENCY_REFUSALS,
    },
)
@api_view(["GET", "POST"])
@permission_classes([IsDoctor])
@throttle_classes([WriteThrottle])
@throttle_scope("slots")
@idempotent
def doctor_timeslots(request):
    """The caller's own slots (GET), or add one (POST)."""
    if request.method == "GET":
        slots = TimeSlot.objects.current().not_gone().filter(doctor=request.user).with_held()
        slots = filtered(OwnSlotFilter, request, slots).order_by("date", "start_time", "id")
        return list_response(
            request, slots.values(*slot_row_columns(OwnSlotSerializer)), OwnSlotSerializer
        )

    serializer = TimeSlotSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    slot = services.slot_create(doctor=request.user, **serializer.validated_data)
    return Response(OwnSlotSerializer(slot).data, status=status.HTTP_201_CREATED)


@extend_schema(
    request=None,
    responses={200: OwnSlotSerializer, 400: MESSAGE, 404: SLOT_NOT_FOUND, **ROLE_REFUSALS},
)
@api_view(["PATCH"])
@permission_classes([IsDoctor])
def toggle_slot_availability(request, slot_id):
    """Enable or disable one of the caller's free slots."""
    slot = services.slot_toggle(slot_id=slot_id, doctor=request.user)
    return Response(OwnSlotSerializer(slot).data)


@extend_schema(responses={200: MESSAGE, 400: MESSAGE, 404: SLOT_NOT_FOUND, **ROLE_REFUSALS})
@api_view(["DELETE"])
@permission_classes([IsDoctor])
def delete_slot(request, slot_id):
    """Delete one of the caller's slots that nobody has booked; a slot that has had a
    booking is retired instead (it leaves every list; its bookings stay)."""
    services.slot_delete(slot_id=slot_id, doctor=request.user)
    return Response({"message": "Slot deleted successfully"})


@extend_schema(
    request=BulkSlotSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        201: TimeSlotSerializer(many=True),
        400: FIELD_ERRORS,
        429: THROTTLED,
        **ROLE_REFUSALS,
        **IDEMPOTENCY_REFUSALS,
    },
)
@api_view(["POST"])
@permission_classes([IsDoctor])
@throttle_classes([WriteThrottle])
@throttle_scope("slots")
@idempotent
def bulk_create_slots(request):
    """Add a run of back-to-back slots over one or more days, all or nothing."""
    serializer = BulkSlotSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    slots = services.slots_bulk_create(doctor=request.user, **serializer.validated_data)
    return Response(TimeSlotSerializer(slots, many=True).data, status=status.HTTP_201_CREATED)
