import math
from datetime import date

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
    throttle_scope,
)
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.models import UserProfile, UserType
from accounts.permissions import IsDoctor, IsPatient
from config.openapi import (
    FIELD_ERRORS,
    FORBIDDEN,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_REFUSALS,
    MESSAGE,
    PAGE_PARAMETERS,
    SLOT_NOT_FOUND,
    THROTTLED,
    UNAUTHENTICATED,
    list_or_page,
)
from config.throttles import SharedScopedRateThrottle, WriteThrottle
from doctor import services
from doctor.filters import AvailableSlotFilter, DoctorFilter, OwnSlotFilter, filtered
from doctor.listcache import available_list_expiry
from doctor.models import Booking, TimeSlot, WaitlistEntry, with_card_figures
from doctor.pagination import list_response, read_once
from doctor.serializers import (
    BookingSerializer,
    BulkSlotSerializer,
    DoctorBookingSerializer,
    DoctorCardSerializer,
    OwnSlotSerializer,
    RescheduleSerializer,
    ReviewSerializer,
    TimeSlotSerializer,
    WaitlistEntrySerializer,
    slot_row_columns,
)
from idempotency.decorators import idempotent

HELD = inline_serializer(
    "Held",
    {
        "hold_id": serializers.IntegerField(),
        "slot_id": serializers.IntegerField(),
        "expires_at": serializers.DateTimeField(),
        "seconds_left": serializers.IntegerField(),
    },
)
RESCHEDULED = inline_serializer(
    "Rescheduled",
    {
        "message": serializers.CharField(),
        "booking_id": serializers.IntegerField(),
        "slot_id": serializers.IntegerField(),
        "rescheduled_from": serializers.IntegerField(),
    },
)
VISIT_RECORDED = inline_serializer(
    "VisitRecorded",
    {
        "message": serializers.CharField(),
        "booking_id": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=["completed", "no_show"]),
    },
)
REVIEW_SAVED = inline_serializer(
    "ReviewSaved",
    {
        "message": serializers.CharField(),
        "rating": serializers.IntegerField(),
        "comment": serializers.CharField(),
    },
)
BOOKING_NOT_FOUND = OpenApiResponse(MESSAGE, description='`{"message": "Booking not found"}`.')
HOLD_NOT_FOUND = OpenApiResponse(MESSAGE, description='`{"message": "Hold not found"}`.')
ENTRY_NOT_FOUND = OpenApiResponse(MESSAGE, description='`{"message": "Waitlist entry not found"}`.')


def _attach_doctor(slots, doctor):
    """These slots are all the caller's: attach the caller instead of joining the user table."""
    for slot in slots:
        slot.doctor = doctor


ROLE_REFUSALS = {401: UNAUTHENTICATED, 403: FORBIDDEN}
BOOKED = inline_serializer(
    "Booked",
    {
        "message": serializers.CharField(),
        "slot_id": serializers.IntegerField(),
        "doctor_id": serializers.IntegerField(),
        "user_id": serializers.IntegerField(),
        "booking_id": serializers.IntegerField(),
    },
)
CANCELLED = inline_serializer(
    "Cancelled",
    {
        "message": serializers.CharField(),
        "booking_id": serializers.IntegerField(),
        "slot_id": serializers.IntegerField(),
        "status": serializers.CharField(),
        "cancelled_at": serializers.DateTimeField(),
    },
)


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
        slots = TimeSlot.objects.filter(doctor=request.user).with_held()
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
    """Delete one of the caller's slots that nobody has booked."""
    services.slot_delete(slot_id=slot_id, doctor=request.user)
    return Response({"message": "Slot deleted successfully"})


def public(view):
    """Answered as for an anonymous caller whatever token comes along, since the
    existing client sends its stored (possibly expired) token everywhere."""
    return authentication_classes([])(permission_classes([AllowAny])(view))


def public_list_schema(serializer_class, name, filters):
    """The OpenAPI of a public list: its filters and the page parameters, no auth."""
    return extend_schema(
        parameters=[*filters, *PAGE_PARAMETERS],
        responses={200: list_or_page(serializer_class, name), 400: FIELD_ERRORS},
        auth=[],
    )


@public_list_schema(
    DoctorCardSerializer,
    "DoctorCard",
    [
        OpenApiParameter("specialization", str, description="Exact, ignoring case."),
        OpenApiParameter("search", str, description="In name, specialization or address."),
    ],
)
@api_view(["GET"])
@public
def doctor_list(request):
    """Active doctors as cards."""

    def respond():
        doctors = UserProfile.objects.filter(user_type=UserType.DOCTOR, is_active=True)
        doctors = with_card_figures(filtered(DoctorFilter, request, doctors).order_by("id"))
        return list_response(request, doctors, DoctorCardSerializer)

    return read_once(request, "doctors", respond)


@public_list_schema(
    TimeSlotSerializer,
    "TimeSlot",
    [
        OpenApiParameter("doctor", int, description="Only this doctor's slots (the doctor id)."),
        OpenApiParameter("date", date, description="Only slots on this day."),
        OpenApiParameter("date_from", date, description="Only slots on or after this day."),
        OpenApiParameter("date_to", date, description="Only slots on or before this day."),
        OpenApiParameter("specialization", str, description="The doctor's, ignoring case."),
        OpenApiParameter(
            "X-Truncated",
            str,
            OpenApiParameter.HEADER,
            response=[200],
            description="`true` when the plain array stopped at MAX_UNPAGED_SLOTS (default "
            "5000) soonest slots; `Link` then points at the cursor page after them.",
        ),
        OpenApiParameter(
            "Link",
            str,
            OpenApiParameter.HEADER,
            response=[200],
            description='`<URL>; rel="next"`: with `X-Truncated`, the cursor page that '
            "follows the last slot of the array.",
        ),
    ],
)
@api_view(["GET"])
@public
def user_available_slots(request):
    """Every doctor's bookable slots, soonest first."""

    def respond():
        slots = filtered(AvailableSlotFilter, request, TimeSlot.objects.bookable())
        slots = slots.order_by("date", "start_time", "id").values(*slot_row_columns())
        bound = settings.MAX_UNPAGED_SLOTS
        return list_response(request, slots, TimeSlotSerializer, max_unpaged=bound)

    return read_once(request, "available", respond, expires=available_list_expiry)


# The refusals of a patient's step on a slot (book, hold): the slot's rules, the
# booking throttle, the role, and the Idempotency-Key's own.
SLOT_STEP_REFUSALS = {
    400: MESSAGE,
    404: SLOT_NOT_FOUND,
    429: THROTTLED,
    **ROLE_REFUSALS,
    **IDEMPOTENCY_REFUSALS,
}


@extend_schema(
    request=None, parameters=[IDEMPOTENCY_KEY], responses={200: BOOKED, **SLOT_STEP_REFUSALS}
)
@api_view(["POST"])
@permission_classes([IsPatient])
@throttle_classes([SharedScopedRateThrottle])
@throttle_scope("booking")
@idempotent
def book_slot(request, slot_id):
    """Book a slot for the calling patient."""
    booking = services.slot_book(slot_id=slot_id, patient=request.user)
    return Response(
        {
            "message": "Slot booked successfully",
            "slot_id": booking.slot_id,
            "doctor_id": booking.slot.doctor_id,
            "user_id": request.user.id,
            "booking_id": booking.id,
        }
    )


@extend_schema(
    request=None,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        201: HELD,
        200: OpenApiResponse(HELD, description="The caller's own live hold, unchanged."),
        **SLOT_STEP_REFUSALS,
    },
)
@api_view(["POST"])
@permission_classes([IsPatient])
@throttle_classes([SharedScopedRateThrottle])
@throttle_scope("booking")
@idempotent
def hold_slot(request, slot_id):
    """Keep a slot for the calling patient while they pay (HOLD_SECONDS)."""
    hold, created = services.hold_place(slot_id=slot_id, patient=request.user)
    seconds_left = math.ceil((hold.expires_at - timezone.now()).total_seconds())
    return Response(
        {
            "hold_id": hold.id,
            "slot_id": hold.slot_id,
            "expires_at": serializers.DateTimeField().to_representation(hold.expires_at),
            "seconds_left": max(seconds_left, 0),
        },
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


@extend_schema(responses={200: MESSAGE, 404: HOLD_NOT_FOUND, **ROLE_REFUSALS})
@api_view(["DELETE"])
@permission_classes([IsPatient])
def release_hold(request, hold_id):
    """Give back the caller's live hold."""
    services.hold_release(hold_id=hold_id, patient=request.user)
    return Response({"message": "Hold released"})


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


@extend_schema(
    request=None,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        200: CANCELLED,
        400: MESSAGE,
        404: SLOT_NOT_FOUND,
        401: UNAUTHENTICATED,
        **IDEMPOTENCY_REFUSALS,
    },
)
@api_view(["POST"])
@idempotent
def cancel_booking(request, slot_id):
    """Cancel a slot's booking: by the patient who holds it or by the slot's doctor."""
    booking = services.booking_cancel(slot_id=slot_id, user=request.user)
    return Response(
        {
            "message": "Booking cancelled",
            "booking_id": booking.id,
            "slot_id": booking.slot_id,
            "status": booking.status,
            "cancelled_at": booking.cancelled_at,
        }
    )


@extend_schema(
    request=RescheduleSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        200: RESCHEDULED,
        400: FIELD_ERRORS,
        404: OpenApiResponse(
            MESSAGE, description="`Booking not found` or `Slot not found` (the target)."
        ),
        429: THROTTLED,
        **ROLE_REFUSALS,
        **IDEMPOTENCY_REFUSALS,
    },
)
@api_view(["POST"])
@permission_classes([IsPatient])
@throttle_classes([SharedScopedRateThrottle])
@throttle_scope("booking")
@idempotent
def reschedule_booking(request, booking_id):
    """Move the caller's booking to another slot of the same doctor, in one step."""
    serializer = RescheduleSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    booking = services.booking_reschedule(
        booking_id=booking_id, patient=request.user, **serializer.validated_data
    )
    return Response(
        {
            "message": "Booking rescheduled",
            "booking_id": booking.id,
            "slot_id": booking.slot_id,
            "rescheduled_from": booking.rescheduled_from_id,
        }
    )


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
        prepare=lambda rows: _attach_doctor([b.slot for b in rows], request.user),
    )


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
        **ROLE_REFUSALS,
        **IDEMPOTENCY_REFUSALS,
    },
)
@api_view(["GET", "POST"])
@permission_classes([IsPatient])
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


def _record_visit(request, booking_id, outcome):
    booking = services.booking_outcome(booking_id=booking_id, doctor=request.user, status=outcome)
    return Response(
        {"message": "Visit recorded", "booking_id": booking.id, "status": booking.status}
    )


VISIT_SCHEMA = extend_schema(
    request=None,
    responses={200: VISIT_RECORDED, 400: MESSAGE, 404: BOOKING_NOT_FOUND, **ROLE_REFUSALS},
)


@VISIT_SCHEMA
@api_view(["POST"])
@permission_classes([IsDoctor])
def complete_booking(request, booking_id):
    """Record that the visit of a booking on the caller's slot took place."""
    return _record_visit(request, booking_id, Booking.Status.COMPLETED)


@VISIT_SCHEMA
@api_view(["POST"])
@permission_classes([IsDoctor])
def no_show_booking(request, booking_id):
    """Record that the patient of a booking on the caller's slot did not come."""
    return _record_visit(request, booking_id, Booking.Status.NO_SHOW)


@extend_schema(
    request=ReviewSerializer,
    responses={201: REVIEW_SAVED, 400: FIELD_ERRORS, 404: BOOKING_NOT_FOUND, **ROLE_REFUSALS},
)
@api_view(["POST"])
@permission_classes([IsPatient])
def review_booking(request, booking_id):
    """Review the caller's completed visit, once."""
    serializer = ReviewSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    review = services.review_create(
        booking_id=booking_id, patient=request.user, **serializer.validated_data
    )
    return Response(
        {"message": "Review saved", "rating": review.rating, "comment": review.comment},
        status=status.HTTP_201_CREATED,
    )
