"""Property-based: random hold, book, release, cancel and reschedule steps by a few
patients on a few slots, with a clock that jumps forward, through doctor.services.

After every step: the booking invariants (doctor.invariants, as `manage.py
check_bookings` checks them, holds included), at most one live hold or active
booking per slot, `is_booked` true exactly when an active booking exists, and no
patient with two live holds. Each example runs in a savepoint rolled back at its end.
"""

import os
from contextlib import suppress
from datetime import datetime, time, timedelta
from unittest import mock

import pytest
from django.db.models import Count, Q
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from doctor import services
from doctor.models import Booking, Hold, TimeSlot
from tests.conftest import Clock
from tests.factories import DoctorFactory, PatientFactory, TimeSlotFactory
from tests.machines import REFUSALS, ServiceMachine, run_machine

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("JOURNEY_PROPERTY_EXAMPLES", "15"))
PATIENTS = 3
SLOTS = 5  # four of one doctor, one of another
slot_index = st.integers(0, SLOTS - 1)
patient_index = st.integers(0, PATIENTS - 1)


def mid_morning_tomorrow():
    """Where the machine's clock starts, on the clinic's clock: the slots made from
    it never run past midnight, whatever time of day the suite runs."""
    tomorrow = timezone.localdate() + timedelta(days=1)
    return datetime.combine(tomorrow, time(10), tzinfo=timezone.get_default_timezone())


class JourneyMachine(ServiceMachine):
    def __init__(self):
        super().__init__()
        # A state machine takes no fixtures: it patches the `frozen` fixture's Clock
        # itself, moved only by the `tick` rule.
        self.clock = Clock(mid_morning_tomorrow())
        self._patch = mock.patch("django.utils.timezone.now", self.clock)
        self._patch.start()

    @initialize()
    def world(self):
        doctor, other = DoctorFactory(), DoctorFactory()
        local = timezone.localtime(self.clock.now)
        # The first slot starts within the hour, so the clock can carry it into the past.
        soon = local + timedelta(minutes=45)
        self.slots = [TimeSlotFactory(doctor=doctor, date=soon.date(), start_time=soon.time())]
        later = (local + timedelta(days=3)).date()
        self.slots += [
            TimeSlotFactory(doctor=doctor, date=later, start_time=time(9 + n)) for n in range(3)
        ]
        self.slots.append(TimeSlotFactory(doctor=other, date=later, start_time=time(9)))
        self.patients = PatientFactory.create_batch(PATIENTS)

    def teardown(self):
        super().teardown()
        self._patch.stop()

    # -- the steps -------------------------------------------------------------

    # Each step either succeeds or is refused in the contract's way (a refusal
    # exception); anything else fails the test.

    @rule(slot=slot_index, patient=patient_index)
    def hold(self, slot, patient):
        with suppress(*REFUSALS):
            services.hold_place(slot_id=self.slots[slot].id, patient=self.patients[patient])

    @rule(slot=slot_index, patient=patient_index)
    def book(self, slot, patient):
        with suppress(*REFUSALS):
            services.slot_book(slot_id=self.slots[slot].id, patient=self.patients[patient])

    @rule(patient=patient_index, pick=st.integers(0, 3))
    def release(self, patient, pick):
        holds = list(Hold.objects.order_by("id").values_list("id", flat=True))
        hold_id = holds[pick % len(holds)] if holds else 424242
        with suppress(*REFUSALS):
            services.hold_release(hold_id=hold_id, patient=self.patients[patient])

    @rule(slot=slot_index, patient=patient_index)
    def cancel(self, slot, patient):
        with suppress(*REFUSALS):
            services.booking_cancel(slot_id=self.slots[slot].id, user=self.patients[patient])

    @rule(slot=slot_index)
    def doctor_cancels(self, slot):
        slot = self.slots[slot]
        with suppress(*REFUSALS):
            services.booking_cancel(slot_id=slot.id, user=slot.doctor)

    @rule(patient=patient_index, slot=slot_index)
    def reschedule(self, patient, slot):
        patient = self.patients[patient]
        booking = Booking.objects.filter(patient=patient).order_by("-id").first()
        with suppress(*REFUSALS):
            services.booking_reschedule(
                booking_id=booking.id if booking else 424242,
                patient=patient,
                slot_id=self.slots[slot].id,
            )

    @rule(seconds=st.sampled_from([1, 60, 299, 301, 900, 3600]))
    def tick(self, seconds):
        self.clock.move(seconds=seconds)

    # -- checked after every step, besides the booking invariants -------------

    @invariant()
    def a_slot_has_at_most_one_owner(self):
        now = self.clock.now
        owners = TimeSlot.objects.annotate(
            live=Count(
                "holds",
                filter=Q(holds__status="active", holds__expires_at__gt=now),
                distinct=True,  # joined with the bookings: each hold once
            ),
            active=Count("bookings", filter=Q(bookings__status="booked"), distinct=True),
        ).values_list("id", "live", "active", "is_booked")
        for slot_id, live, active, is_booked in owners:
            assert live + active <= 1, slot_id
            assert is_booked == (active == 1), slot_id

    @invariant()
    def a_patient_has_at_most_one_live_hold(self):
        live = Hold.objects.filter(status="active", expires_at__gt=self.clock.now)
        assert not live.values("patient").annotate(n=Count("id")).filter(n__gt=1).exists()


def test_random_journeys_keep_the_invariants():
    run_machine(JourneyMachine, examples=EXAMPLES, steps=25)
