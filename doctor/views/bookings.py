"""Booking a slot, cancelling, moving a booking, and the two booking lists."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.decorators import api_view, permission_classes, throttle_classes, throttle_scope
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.response import Response

from accounts.permissions import IsDoctor, IsPatient
from config.openapi import (
    FIELD_ERRORS,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_REFUSALS,
    MESSAGE,
    PAGE_PARAMETERS,
    ROLE_REFUSALS,
    SLOT_NOT_FOUND,
    SLOT_STEP_REFUSALS,
    THROTTLED,
    UNAUTHENTICATED,
    list_or_page,
)
from config.throttles import SharedScopedRateThrottle
from doctor import services
from doctor.models import Booking
from doctor.pagination import list_response
from doctor.replies import (
    BookedSerializer,
    CancelledSerializer,
    RescheduledSerializer,
    booked,
)
from doctor.serializers import (
    BookingSerializer,
    DoctorBookingSerializer,
    RescheduleSerializer,
    VisitTypeSerializer,
)
from doctor.views import patient_step
from idempotency.decorators import idempotent


def visit_type_of(request):
    """The optional `visit_type` of a book or hold body (none: no body, or `{}`).
    These steps took no body before Part 5, so a body of a media type the API does
    not parse (a client's empty form post) still means "no body", as it did."""
    try:
        data = request.data
    except UnsupportedMediaType:
        return None
    if isinstance(data, dict) and not data:  # no body, or {}: nothing to validate
        return None
    serializer = VisitTypeSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data.get("visit_type")


@extend_schema(
    request=VisitTypeSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={200: BookedSerializer, **SLOT_STEP_REFUSALS},
)
@patient_step
def book_slot(request, slot_id):
    """Book a slot for the calling patient, optionally naming the kind of visit
    (`visit_type`: default the caller's hold's, else `clinic`)."""
    visit_type = visit_type_of(request)
    booking = services.slot_book(slot_id=slot_id, patient=request.user, visit_type=visit_type)
    return Response(booked(booking))


@extend_schema(
    request=None,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        200: CancelledSerializer,
        400: MESSAGE,
        404: SLOT_NOT_FOUND,
        401: UNAUTHENTICATED,
        429: THROTTLED,
        **IDEMPOTENCY_REFUSALS,
    },
)
@api_view(["POST"])
@throttle_classes([SharedScopedRateThrottle])
@throttle_scope("cancel")
@idempotent
def cancel_booking(request, slot_id):
    """Cancel a slot's booking: by the patient who holds it or by the slot's doctor."""
    booking = services.booking_cancel(slot_id=slot_id, user=request.user)
    return Response(CancelledSerializer(booking).data)


# A move's OpenAPI: the patient's and the desk's (desk/views.py) are the same step.
reschedule_schema = extend_schema(
    request=RescheduleSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        200: RescheduledSerializer,
        400: FIELD_ERRORS,
        404: OpenApiResponse(
            MESSAGE, description="`Booking not found` or `Slot not found` (the target)."
        ),
        429: THROTTLED,
        **ROLE_REFUSALS,
        **IDEMPOTENCY_REFUSALS,
    },
)


@reschedule_schema
@patient_step
def reschedule_booking(request, booking_id):
    """Move the caller's booking to another slot of the same doctor, in one step."""
    serializer = RescheduleSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    booking = services.booking_reschedule(
        booking_id=booking_id, patient=request.user, **serializer.validated_data
    )
    return Response(RescheduledSerializer(booking).data)


@extend_schema(
    parameters=PAGE_PARAMETERS,
    responses={200: list_or_page(BookingSerializer, "Booking"), 400: FIELD_ERRORS, **ROLE_REFUSALS},
)
@api_view(["GET"])
@permission_classes([IsPatient])
def user_bookings(request):
    """The calling patient's bookings, newest first."""
    bookings = Booking.objects.filter(patient=request.user).select_related("slot__doctor")
    return list_response(request, bookings.order_by("-created_at", "-id"), BookingSerializer)


def _attach_doctor(bookings, doctor):
    """These bookings are all on the caller's slots: attach the caller instead of joining."""
    for booking in bookings:
        booking.slot.doctor = doctor


@extend_schema(
    parameters=PAGE_PARAMETERS,
    responses={
        200: list_or_page(DoctorBookingSerializer, "DoctorBooking"),
        400: FIELD_ERRORS,
        **ROLE_REFUSALS,
    },
)
@api_view(["GET"])
@permission_classes([IsDoctor])
def doctor_bookings(request):
    """Bookings on the calling doctor's slots, newest first, with who booked."""
    bookings = Booking.objects.filter(slot__doctor=request.user).select_related("slot", "patient")
    return list_response(
        request,
        bookings.order_by("-created_at", "-id"),
        DoctorBookingSerializer,
        prepare=lambda rows: _attach_doctor(rows, request.user),
    )
