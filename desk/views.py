"""The front desk's endpoints (contract Part 5): find or register a patient, see its
doctors' bookable slots and bookings, book and move for a patient. Cancelling is
the doctor's endpoint (doctor/views/bookings.py), open to the desk."""

from datetime import date

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes, throttle_classes, throttle_scope
from rest_framework.response import Response

from accounts.permissions import IsDesk
from config.openapi import (
    FIELD_ERRORS,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_REFUSALS,
    MESSAGE,
    PAGE_PARAMETERS,
    ROLE_REFUSALS,
    SLOT_STEP_REFUSALS,
    THROTTLED,
    list_or_page,
)
from config.throttles import SharedScopedRateThrottle, WriteThrottle
from desk import services
from desk.serializers import (
    DayQuerySerializer,
    DeskBookingSerializer,
    DeskPatientSerializer,
    PatientSearchSerializer,
    WalkInSerializer,
)
from doctor import services as doctor_services
from doctor.clock import clinic_now
from doctor.filters import AvailableSlotFilter, filtered
from doctor.models import Booking, TimeSlot
from doctor.pagination import list_response
from doctor.replies import RescheduledSerializer
from doctor.serializers import (
    DoctorBookingSerializer,
    RescheduleSerializer,
    TimeSlotSerializer,
    slot_row_columns,
)
from doctor.views.bookings import reschedule_schema
from idempotency.decorators import idempotent


def desk_step(view):
    """A desk user's write for a patient: a POST by a desk user, counted per desk
    user by THROTTLE_RATE_DESK, retried safely with an Idempotency-Key."""
    view = throttle_scope("desk")(idempotent(view))
    view = permission_classes([IsDesk])(throttle_classes([SharedScopedRateThrottle])(view))
    return api_view(["POST"])(view)


@extend_schema(
    methods=["GET"],
    parameters=[
        OpenApiParameter("search", str, required=True, description="At least 3 characters.")
    ],
    responses={
        200: DeskPatientSerializer(many=True),
        400: FIELD_ERRORS,
        429: THROTTLED,
        **ROLE_REFUSALS,
    },
)
@extend_schema(
    methods=["POST"],
    request=WalkInSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        201: DeskPatientSerializer,
        400: OpenApiResponse(
            MESSAGE, description='Field errors, or `{"message": "Email already registered"}`.'
        ),
        429: THROTTLED,
        **ROLE_REFUSALS,
        **IDEMPOTENCY_REFUSALS,
    },
)
@api_view(["GET", "POST"])
@permission_classes([IsDesk])
@throttle_classes([SharedScopedRateThrottle])
@throttle_scope("desk")  # searches too: a search reads personal data, so it is counted
@idempotent
def desk_patients(request):
    """Find active patients by name, email or phone (GET: at most 20, by id), or
    register a walk-in or phone caller who cannot log in (POST)."""
    if request.method == "GET":
        query = PatientSearchSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = services.patient_search(query.validated_data["search"])
        return Response(DeskPatientSerializer(found, many=True).data)
    serializer = WalkInSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    patient = services.walk_in_register(**serializer.validated_data)
    return Response(DeskPatientSerializer(patient).data, status=status.HTTP_201_CREATED)


@extend_schema(
    parameters=[
        OpenApiParameter("doctor", int, description="Only this doctor's slots (the doctor id)."),
        OpenApiParameter("date", date, description="Only slots on this day."),
        *PAGE_PARAMETERS,
    ],
    responses={
        200: list_or_page(TimeSlotSerializer, "TimeSlot"),
        400: FIELD_ERRORS,
        **ROLE_REFUSALS,
    },
)
@api_view(["GET"])
@permission_classes([IsDesk])
def desk_slots(request):
    """The bookable slots of the desk's doctors, as the public list shows them, the
    doctors' minimum booking notice ignored."""
    mine = TimeSlot.objects.bookable(notice=False).filter(
        doctor_id__in=request.user.desk_doctor_ids()
    )
    slots = filtered(AvailableSlotFilter, request, mine).order_by("date", "start_time", "id")
    bound = settings.MAX_UNPAGED_SLOTS
    return list_response(
        request, slots.values(*slot_row_columns()), TimeSlotSerializer, max_unpaged=bound
    )


@extend_schema(
    methods=["GET"],
    parameters=[
        OpenApiParameter("date", date, description="The slots' day (default: today)."),
        *PAGE_PARAMETERS,
    ],
    responses={
        200: list_or_page(DoctorBookingSerializer, "DoctorBooking"),
        400: FIELD_ERRORS,
        **ROLE_REFUSALS,
    },
)
@extend_schema(
    methods=["POST"],
    request=DeskBookingSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        201: DoctorBookingSerializer,
        **SLOT_STEP_REFUSALS,
        404: OpenApiResponse(MESSAGE, description="`Slot not found` or `Patient not found`."),
    },
)
@api_view(["GET", "POST"])
@permission_classes([IsDesk])
@throttle_classes([WriteThrottle])
@throttle_scope("desk")
@idempotent
def desk_bookings(request):
    """The desk's doctors' bookings on a day (GET), or book a slot for a patient (POST)."""
    if request.method == "GET":
        return _day_bookings(request)
    return _book(request)


def _day_bookings(request):
    query = DayQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    day = query.validated_data.get("date") or clinic_now().date()
    bookings = Booking.objects.filter(
        slot__doctor_id__in=request.user.desk_doctor_ids(), slot__date=day
    ).select_related("slot__doctor", "patient")
    return list_response(request, bookings.order_by("-created_at", "-id"), DoctorBookingSerializer)


def _book(request):
    serializer = DeskBookingSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    booking = doctor_services.slot_book(
        slot_id=data["slot_id"],
        patient=services.patients(pk=data["patient_id"]).first(),
        desk=request.user,
        visit_type=data.get("visit_type"),
    )
    booking = Booking.objects.select_related("slot__doctor", "patient").get(pk=booking.pk)
    return Response(DoctorBookingSerializer(booking).data, status=status.HTTP_201_CREATED)


@reschedule_schema
@desk_step
def desk_reschedule(request, booking_id):
    """Move a booking on the desk's doctors' slots to another slot of the same doctor,
    without the patient's notices."""
    serializer = RescheduleSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    booking = doctor_services.booking_reschedule(
        booking_id=booking_id, desk=request.user, **serializer.validated_data
    )
    return Response(RescheduledSerializer(booking).data)
