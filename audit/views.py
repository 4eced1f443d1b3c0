"""A booking's history, for its patient and for its doctor (or a desk serving them)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from accounts.permissions import IsDesk, IsDoctor, IsPatient
from audit.models import AuditEntry
from audit.serializers import AuditEntrySerializer
from config.errors import NotFound
from config.openapi import MESSAGE, ROLE_REFUSALS
from doctor import rules
from doctor.models import Booking

HISTORY = extend_schema(
    responses={
        200: AuditEntrySerializer(many=True),
        404: OpenApiResponse(MESSAGE, description='`{"message": "Booking not found"}`.'),
        **ROLE_REFUSALS,
    }
)


def _history(bookings, booking_id):
    """The entries of the booking, if it is among `bookings` (else 404), by id."""
    if not bookings.filter(pk=booking_id).exists():
        raise NotFound(rules.BOOKING_NOT_FOUND)
    entries = AuditEntry.objects.filter(booking_id=booking_id).order_by("id")
    return Response(AuditEntrySerializer(entries, many=True).data)


@HISTORY
@api_view(["GET"])
@permission_classes([IsDoctor | IsDesk])
def doctor_booking_history(request, booking_id):
    """The history of a booking on the caller's slots (a desk user: its doctors')."""
    user = request.user
    doctors = user.desk_doctor_ids() if user.is_desk else [user.pk]
    return _history(Booking.objects.filter(slot__doctor_id__in=doctors), booking_id)


@HISTORY
@api_view(["GET"])
@permission_classes([IsPatient])
def user_booking_history(request, booking_id):
    """The history of one of the calling patient's bookings."""
    return _history(Booking.objects.filter(patient=request.user), booking_id)
