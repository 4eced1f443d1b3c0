"""Property-based: random sequences of slot create, bulk create, toggle, delete,
book and cancel through doctor.services, by a few doctors and patients.

After every step the booking invariants hold (doctor.invariants, the same check
as `manage.py check_bookings`), and the database agrees with a model of who
holds what: a success changes exactly what the rule says, a refusal nothing.
Each example runs in a savepoint rolled back at its end.
"""

import os
from datetime import datetime, time, timedelta

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, invariant, multiple, rule

from doctor import services
from doctor.models import TimeSlot
from tests.factories import DoctorFactory, PatientFactory, tomorrow
from tests.machines import REFUSALS, ServiceMachine, run_machine

pytestmark = pytest.mark.django_db

# Bounded so that the suite stays fast on both databases; raise it for a deeper
# search locally, e.g. BOOKING_PROPERTY_EXAMPLES=500.
EXAMPLES = int(os.environ.get("BOOKING_PROPERTY_EXAMPLES", "15"))

DOCTORS = 2
PATIENTS = 3
# Who acts on a slot: mostly the rightful user, sometimes anyone else, who must
# get the same refusal as for a missing slot (deleted slots stay in the bundle).
strangers = st.sampled_from([False, False, False, True])
CANCELLERS = ["holder", "holder", "doctor", "other patient", "other doctor"]

# A small grid of starts and lengths on two days, so overlaps are frequent.
starts = st.integers(min_value=0, max_value=7).map(lambda k: time(8 + k // 4, 15 * (k % 4)))
durations = st.sampled_from([15, 30, 45])
days = st.integers(min_value=1, max_value=2)


def end_of(start, minutes):
    return (datetime.combine(tomorrow(), start) + timedelta(minutes=minutes)).time()


def message_of(exc):
    """The contract's text of a {"message": ...} refusal; None for field errors."""
    return getattr(exc, "message", None)


class BookingMachine(ServiceMachine):
    """The model: slot id -> {"doctor", "date", "start", "end", "available", "holder"}."""

    slots = Bundle("slots")
    booked = Bundle("booked")  # slots booked at some point (maybe cancelled or deleted since)

    def __init__(self):
        super().__init__()
        self.doctors = DoctorFactory.create_batch(DOCTORS)
        self.patients = PatientFactory.create_batch(PATIENTS)
        self.model = {}  # the current slots
        self.ever_booked = set()
        self.retired = set()  # deleted with a history: the row stays, retired

    # -- the model's predictions ------------------------------------------

    def doctor_for(self, slot_id, stranger):
        """The slot's own doctor, or another one (a deleted slot's: the first)."""
        slot = self.model.get(slot_id, {"doctor": self.doctors[0].pk})
        return next(d for d in self.doctors if (d.pk == slot["doctor"]) != stranger)

    def canceller(self, slot_id, who):
        if who in ("doctor", "other doctor"):
            return self.doctor_for(slot_id, stranger=who == "other doctor")
        holder = self.model.get(slot_id, {}).get("holder")
        if who == "holder" and holder is not None:
            return next(p for p in self.patients if p.pk == holder)
        return next(p for p in self.patients if p.pk != holder)

    def overlaps(self, doctor, date, start, end):
        return any(
            s["doctor"] == doctor.pk and s["date"] == date and start < s["end"] and end > s["start"]
            for s in self.model.values()
        )

    def refusal_for_doctor(self, slot_id, doctor, action):
        slot = self.model.get(slot_id)
        if slot is None or slot["doctor"] != doctor.pk:
            return "Slot not found"
        if slot["holder"] is not None:
            return f"Booked slot cannot be {action}"
        return None

    def refusal_for_booking(self, slot_id):
        slot = self.model.get(slot_id)
        if slot is None:
            return "Slot not found"
        if slot["holder"] is not None:
            return "Slot already booked"
        if not slot["available"]:
            return "Slot is not available"
        return None

    def refusal_for_cancel(self, slot_id, user):
        slot = self.model.get(slot_id)
        if slot is None or user.pk not in (slot["doctor"], slot["holder"]):
            return "Slot not found"
        if slot["holder"] is None:
            return "Slot is not booked"
        return None

    def refused(self, call, expected):
        """Run a call the model says is refused with `expected` (None: a field error)."""
        with pytest.raises(REFUSALS) as refusal:
            call()
        assert message_of(refusal.value) == expected

    def add(self, slot, doctor):
        self.model[slot.id] = {
            "doctor": doctor.pk,
            "date": slot.date,
            "start": slot.start_time,
            "end": slot.end_time,
            "available": True,
            "holder": None,
        }
        return slot.id

    # -- the rules -----------------------------------------------------------

    @rule(
        target=slots,
        doctor=st.integers(0, DOCTORS - 1),
        day=days,
        start=starts,
        minutes=durations,
    )
    def create(self, doctor, day, start, minutes):
        doctor = self.doctors[doctor]
        date, end = tomorrow() + timedelta(days=day - 1), end_of(start, minutes)
        args = dict(doctor=doctor, date=date, start_time=start, end_time=end, duration=minutes)
        if self.overlaps(doctor, date, start, end):
            self.refused(lambda: services.slot_create(**args), None)
            return multiple()
        return self.add(services.slot_create(**args), doctor)

    @rule(
        target=slots,
        doctor=st.integers(0, DOCTORS - 1),
        day=days,
        start=starts,
        count=st.integers(1, 3),
    )
    def bulk_create(self, doctor, day, start, count):
        doctor = self.doctors[doctor]
        date, end = tomorrow() + timedelta(days=day - 1), end_of(start, 15 * count)
        plan = dict(
            doctor=doctor,
            date=date,
            date_to=date,
            weekdays=list(range(7)),
            start_time=start,
            end_time=end,
            duration=15,
        )
        if self.overlaps(doctor, date, start, end):
            self.refused(lambda: services.slots_bulk_create(**plan), None)
            return multiple()
        return multiple(*(self.add(slot, doctor) for slot in services.slots_bulk_create(**plan)))

    @rule(slot_id=slots | booked, stranger=strangers)
    def toggle(self, slot_id, stranger):
        doctor = self.doctor_for(slot_id, stranger)
        expected = self.refusal_for_doctor(slot_id, doctor, "modified")
        if expected:
            self.refused(lambda: services.slot_toggle(slot_id=slot_id, doctor=doctor), expected)
            return
        slot = services.slot_toggle(slot_id=slot_id, doctor=doctor)
        self.model[slot_id]["available"] = not self.model[slot_id]["available"]
        assert slot.is_available == self.model[slot_id]["available"]

    @rule(slot_id=slots | booked, stranger=strangers)
    def delete(self, slot_id, stranger):
        doctor = self.doctor_for(slot_id, stranger)
        expected = self.refusal_for_doctor(slot_id, doctor, "deleted")
        if expected:
            self.refused(lambda: services.slot_delete(slot_id=slot_id, doctor=doctor), expected)
            return
        retired = services.slot_delete(slot_id=slot_id, doctor=doctor)
        assert retired == (slot_id in self.ever_booked)
        if retired:
            self.retired.add(slot_id)
        del self.model[slot_id]

    @rule(target=booked, slot_id=slots, patient=st.integers(0, PATIENTS - 1))
    def book(self, slot_id, patient):
        patient = self.patients[patient]
        expected = self.refusal_for_booking(slot_id)
        if expected:
            self.refused(lambda: services.slot_book(slot_id=slot_id, patient=patient), expected)
            return multiple()
        booking = services.slot_book(slot_id=slot_id, patient=patient)
        assert (booking.slot_id, booking.patient_id) == (slot_id, patient.pk)
        self.model[slot_id].update(holder=patient.pk, available=False)
        self.ever_booked.add(slot_id)
        return slot_id

    @rule(slot_id=booked, who=st.sampled_from(CANCELLERS))
    def cancel(self, slot_id, who):
        user = self.canceller(slot_id, who)
        expected = self.refusal_for_cancel(slot_id, user)
        if expected:
            self.refused(lambda: services.booking_cancel(slot_id=slot_id, user=user), expected)
            return
        booking = services.booking_cancel(slot_id=slot_id, user=user)
        assert (booking.status, booking.patient_id) == ("cancelled", self.model[slot_id]["holder"])
        self.model[slot_id].update(holder=None, available=True)

    # -- checked after every step, besides the booking invariants -----------

    @invariant()
    def database_matches_model(self):
        mine = TimeSlot.objects.filter(doctor__in=self.doctors)
        rows = mine.current().values_list("id", "is_available", "is_booked")
        retired = mine.filter(retired_at__isnull=False).values_list("id", flat=True)
        assert set(retired) == self.retired
        held = dict(
            TimeSlot.objects.filter(doctor__in=self.doctors, bookings__status="booked").values_list(
                "id", "bookings__patient_id"
            )
        )
        assert {row[0]: row[1:] for row in rows} == {
            slot_id: (s["available"], s["holder"] is not None) for slot_id, s in self.model.items()
        }
        assert held == {
            slot_id: s["holder"] for slot_id, s in self.model.items() if s["holder"] is not None
        }


def test_random_slot_and_booking_sequences_keep_the_invariants():
    run_machine(BookingMachine, examples=EXAMPLES, steps=20)
