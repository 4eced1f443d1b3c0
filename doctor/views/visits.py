"""After the visit: the doctor records how it went, the patient reviews it."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from accounts.permissions import IsDoctor, IsPatient
from config.openapi import FIELD_ERRORS, MESSAGE, ROLE_REFUSALS
from doctor import services
from doctor.models import Booking
from doctor.replies import ReviewSavedSerializer, VisitRecordedSerializer
from doctor.serializers import ReviewSerializer

BOOKING_NOT_FOUND = OpenApiResponse(MESSAGE, description='`{"message": "Booking not found"}`.')
VISIT_SCHEMA = extend_schema(
    request=None,
    responses={
        200: VisitRecordedSerializer,
        400: MESSAGE,
        404: BOOKING_NOT_FOUND,
        **ROLE_REFUSALS,
    },
)


def _record_visit(request, booking_id, outcome):
    booking = services.booking_outcome(booking_id=booking_id, doctor=request.user, status=outcome)
    return Response(VisitRecordedSerializer(booking).data)


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
    responses={
        201: ReviewSavedSerializer,
        400: FIELD_ERRORS,
        404: BOOKING_NOT_FOUND,
        **ROLE_REFUSALS,
    },
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
    return Response(ReviewSavedSerializer(review).data, status=status.HTTP_201_CREATED)
