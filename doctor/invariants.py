"""The booking invariants, checked on the whole database in one place.

`manage.py check_bookings`, the property-based tests and the fault drills all
call violations(): the database constraints already refuse most of these states,
so a violation means data written around them (a restore, a manual fix, a
dropped index), and an operator needs to see it spelled out.

Eight queries, whatever the size of the tables.
"""

from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Q

from doctor.models import Booking, Hold, TimeSlot, WaitlistEntry


@dataclass(frozen=True)
class Violation:
    invariant: str
    message: str

    def __str__(self):
        return f"{self.invariant}: {self.message}"


def _active_bookings():
    return Booking.objects.filter(status=Booking.Status.BOOKED)


def _double_bookings():
    rows = (
        _active_bookings()
        .values("slot_id")
        .annotate(active=Count("id"))
        .filter(active__gt=1)
        .order_by("slot_id")
    )
    return [
        Violation("double-booked", f"slot {row['slot_id']} has {row['active']} active bookings")
        for row in rows
    ]


def _flag_mismatches():
    # is_booked must say exactly whether an active booking exists, or a visit was
    # recorded on the slot (completed or no-show): that slot stays taken for good.
    taking = (Booking.Status.BOOKED, Booking.Status.COMPLETED, Booking.Status.NO_SHOW)
    active = Booking.objects.filter(status__in=taking, slot_id=OuterRef("pk"))
    rows = (
        TimeSlot.objects.annotate(has_active=Exists(active))
        .filter(Q(is_booked=True, has_active=False) | Q(is_booked=False, has_active=True))
        .values_list("id", "is_booked")
        .order_by("id")
    )
    return [
        Violation(
            "is_booked-mismatch",
            f"slot {slot_id} is_booked={is_booked} but has "
            f"{'no' if is_booked else 'an'} active booking",
        )
        for slot_id, is_booked in rows
    ]


def _booked_but_available():
    rows = TimeSlot.objects.filter(is_booked=True, is_available=True).order_by("id")
    return [
        Violation("booked-but-available", f"slot {slot_id} is booked and marked available")
        for slot_id in rows.values_list("id", flat=True)
    ]


def _orphan_bookings():
    # The foreign key forbids it; a restore with triggers off or a deferred
    # check that never ran would not.
    rows = (
        Booking.objects.filter(~Exists(TimeSlot.objects.filter(pk=OuterRef("slot_id"))))
        .values_list("id", "slot_id")
        .order_by("id")
    )
    return [
        Violation(
            "missing-slot", f"booking {booking_id} is on slot {slot_id}, which does not exist"
        )
        for booking_id, slot_id in rows
    ]


def _held_and_booked():
    rows = (
        TimeSlot.objects.filter(is_booked=True)
        .filter(Exists(Hold.objects.live().filter(slot_id=OuterRef("pk"))))
        .values_list("id", flat=True)
        .order_by("id")
    )
    return [
        Violation("held-and-booked", f"slot {slot_id} is booked and has a live hold")
        for slot_id in rows
    ]


def _two_live_holds():
    # The partial unique constraints forbid it for active holds of one slot, and
    # for a patient's own (waitlist offers come on top of one's own hold).
    found = []
    for owner, holds in (
        ("slot_id", Hold.objects.live()),
        ("patient_id", Hold.objects.live().filter(kind=Hold.Kind.HOLD)),
    ):
        rows = holds.values(owner).annotate(live=Count("id")).filter(live__gt=1).order_by(owner)
        found += [
            Violation("two-live-holds", f"{owner[:-3]} {row[owner]} has {row['live']} live holds")
            for row in rows
        ]
    return found


def _offers_astray():
    # An offered entry points at its offer: still active (live, or lapsed and
    # waiting for the periodic pass-on), of kind offer, held by the entry's patient.
    rows = (
        WaitlistEntry.objects.filter(status=WaitlistEntry.Status.OFFERED)
        .filter(
            Q(offer__isnull=True)
            | ~Q(offer__status=Hold.Status.ACTIVE)
            | ~Q(offer__kind=Hold.Kind.OFFER)
            | ~Q(offer__patient=F("patient"))
        )
        .values_list("id", flat=True)
        .order_by("id")
    )
    return [
        Violation("offer-astray", f"waitlist entry {entry_id} is offered without its live offer")
        for entry_id in rows
    ]


# What each check guarantees, in the words the command prints when all hold.
CHECKS = {
    "no slot with two active bookings": _double_bookings,
    "is_booked true exactly when an active booking exists": _flag_mismatches,
    "no booked slot marked available": _booked_but_available,
    "no booking on a missing slot": _orphan_bookings,
    "no booked slot with a live hold": _held_and_booked,
    "no slot and no patient with two live holds": _two_live_holds,
    "an offered waitlist entry's hold is its active offer": _offers_astray,
}


def violations():
    """Every broken booking invariant in the database, as a list (empty when all hold)."""
    return [violation for check in CHECKS.values() for violation in check()]
