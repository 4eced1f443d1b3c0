"""After the visit: its doctor records how it went, its patient reviews it.
Both change what the doctor's card shows (patients, rating): units of work."""

from django.db import IntegrityError

from config.errors import NotFound, Refused
from doctor import rules
from doctor.locks import locked_slot
from doctor.models import Booking, Review
from doctor.serializers import booking_data
from doctor.unit import slot_change


def booking_outcome(*, booking_id, doctor, status):
    """The slot's doctor records how a started visit went: `completed` or `no_show`.

    The slot stays booked (its visit happened, or was due): it can be neither
    re-opened nor deleted, and the booking is no longer active.
    """
    with slot_change() as change:
        booking = Booking.objects.filter(pk=booking_id, slot__doctor=doctor).first()
        if booking is None:
            raise NotFound(rules.BOOKING_NOT_FOUND)
        slot = locked_slot(booking.slot_id)
        booking.refresh_from_db(fields=["status"])  # decided on under the slot's lock
        if booking.status != Booking.Status.BOOKED:
            raise Refused(rules.BOOKING_NOT_ACTIVE)
        if not slot.is_past:
            raise Refused(rules.VISIT_NOT_STARTED)
        booking.status = status
        booking.save(update_fields=["status"])
        change.audit(
            f"booking.{status}",
            slot=slot,
            booking=booking,
            changes={"status": [Booking.Status.BOOKED, status]},
            event=booking_data(booking),
        )
    booking.slot = slot
    return booking


def review_create(*, booking_id, patient, rating, comment=""):
    """The patient's review of their completed visit; one per booking (the database
    refuses a second one, so two at once give one review and one refusal)."""
    booking = Booking.objects.select_related("slot").filter(pk=booking_id, patient=patient).first()
    if booking is None:
        raise NotFound(rules.BOOKING_NOT_FOUND)
    if booking.status != Booking.Status.COMPLETED:
        raise Refused(rules.VISIT_NOT_COMPLETED)
    if Review.objects.filter(booking=booking).exists():
        raise Refused(rules.ALREADY_REVIEWED)
    try:
        with slot_change():
            return Review.objects.create(
                booking=booking, doctor_id=booking.slot.doctor_id, rating=rating, comment=comment
            )
    except IntegrityError as exc:
        if not Review.objects.filter(booking=booking).exists():
            raise
        raise Refused(rules.ALREADY_REVIEWED) from exc  # reviewed at the same moment


def review_delete(*, review_id):
    """Staff remove a review (abuse): the doctor's card rating changes with it."""
    with slot_change():
        Review.objects.filter(pk=review_id).delete()
