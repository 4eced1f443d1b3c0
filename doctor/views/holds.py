"""A patient's hold on a slot while they pay, and giving it back."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from accounts.permissions import IsPatient
from config.openapi import IDEMPOTENCY_KEY, MESSAGE, ROLE_REFUSALS, SLOT_STEP_REFUSALS
from doctor import services
from doctor.replies import HeldSerializer
from doctor.serializers import VisitTypeSerializer
from doctor.views import patient_step
from doctor.views.bookings import visit_type_of

HOLD_NOT_FOUND = OpenApiResponse(MESSAGE, description='`{"message": "Hold not found"}`.')


@extend_schema(
    request=VisitTypeSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={
        201: HeldSerializer,
        200: OpenApiResponse(HeldSerializer, description="The caller's own live hold, unchanged."),
        **SLOT_STEP_REFUSALS,
    },
)
@patient_step
def hold_slot(request, slot_id):
    """Keep a slot for the calling patient while they pay (HOLD_SECONDS).

    A hold is never extended: a new hold on a slot the caller held within the last
    hour ends when the first of those did, and once that has passed the answer is
    400 `{"message": "Slot was held recently"}` (booking it stays possible)."""
    hold, created = services.hold_place(
        slot_id=slot_id, patient=request.user, visit_type=visit_type_of(request)
    )
    return Response(
        HeldSerializer(hold).data,
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


@extend_schema(responses={200: MESSAGE, 404: HOLD_NOT_FOUND, **ROLE_REFUSALS})
@api_view(["DELETE"])
@permission_classes([IsPatient])
def release_hold(request, hold_id):
    """Give back the caller's live hold."""
    services.hold_release(hold_id=hold_id, patient=request.user)
    return Response({"message": "Hold released"})
