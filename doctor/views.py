from rest_framework import status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.models import UserProfile, UserType
from accounts.permissions import IsDoctor, IsPatient
from doctor import services
from doctor.models import TimeSlot
from doctor.serializers import DoctorCardSerializer, TimeSlotSerializer


@api_view(["GET", "POST"])
@permission_classes([IsDoctor])
def doctor_timeslots(request):
    """The caller's own slots (GET), or add one (POST)."""
    if request.method == "GET":
        slots = TimeSlot.objects.filter(doctor=request.user).order_by("date", "start_time", "id")
        for slot in slots:
            slot.doctor = request.user  # all rows are the caller's: no join needed
        return Response(TimeSlotSerializer(slots, many=True).data)

    serializer = TimeSlotSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    slot = services.slot_create(doctor=request.user, **serializer.validated_data)
    return Response(TimeSlotSerializer(slot).data, status=status.HTTP_201_CREATED)


@api_view(["PATCH"])
@permission_classes([IsDoctor])
def toggle_slot_availability(request, slot_id):
    """Enable or disable one of the caller's free slots."""
    slot = services.slot_toggle(slot_id=slot_id, doctor=request.user)
    return Response(TimeSlotSerializer(slot).data)


@api_view(["DELETE"])
@permission_classes([IsDoctor])
def delete_slot(request, slot_id):
    """Delete one of the caller's slots that nobody has booked."""
    services.slot_delete(slot_id=slot_id, doctor=request.user)
    return Response({"message": "Slot deleted successfully"})


# Public: answered as for an anonymous caller whatever token comes along,
# since the existing client sends its stored (possibly expired) token everywhere.
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def doctor_list(request):
    """Active doctors as cards."""
    doctors = UserProfile.objects.filter(user_type=UserType.DOCTOR, is_active=True).order_by("id")
    return Response(DoctorCardSerializer(doctors, many=True).data)


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def user_available_slots(request):
    """Every doctor's bookable slots, soonest first."""
    slots = (
        TimeSlot.objects.bookable().select_related("doctor").order_by("date", "start_time", "id")
    )
    return Response(TimeSlotSerializer(slots, many=True).data)


@api_view(["POST"])
@permission_classes([IsPatient])
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
