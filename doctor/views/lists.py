"""The public lists: doctors as cards, and every doctor's bookable slots. Asked
with no parameters they are read once per change (listcache) and served to all."""

from datetime import date, time, timedelta

from django.conf import settings
from django.db.models import Min
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny

from accounts.models import UserProfile, UserType
from config.openapi import FIELD_ERRORS, PAGE_PARAMETERS, list_or_page
from doctor.clock import clinic_datetime
from doctor.filters import AvailableSlotFilter, DoctorFilter, filtered
from doctor.models import Hold, TimeSlot, with_card_figures
from doctor.pagination import list_response, read_once
from doctor.serializers import DoctorCardSerializer, TimeSlotSerializer, slot_row_columns


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


def available_list_expiry(rows):
    """When the available list changes with no write at all: a slot in it comes
    inside its doctor's minimum booking notice (so stops being bookable), or a
    live hold lapses (and its slot comes back). Rows are in start order, so each
    doctor's first row is the first of theirs to come inside the notice."""
    firsts = {}
    for row in rows:
        firsts.setdefault(row["doctor"], row)
    notice = dict(
        UserProfile.objects.filter(pk__in=firsts).values_list("id", "min_booking_notice_minutes")
    )
    moments = [Hold.objects.live().aggregate(end=Min("expires_at"))["end"]]
    for doctor, row in firsts.items():
        start = clinic_datetime(
            date.fromisoformat(row["date"]), time.fromisoformat(row["start_time"])
        )
        moments.append(start - timedelta(minutes=notice.get(doctor, 0)))
    return min((m.timestamp() for m in moments if m is not None), default=None)


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
