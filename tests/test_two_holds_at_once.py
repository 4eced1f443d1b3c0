"""One patient holding two slots at the same moment: they keep one, and the other
goes to its waitlist like any released hold (PostgreSQL: real concurrent sessions)."""

from datetime import time

import pytest

from doctor.models import Hold, WaitlistEntry
from tests.conftest import client_for, run_together
from tests.factories import DoctorFactory, PatientFactory, TimeSlotFactory, WaitlistEntryFactory
from tests.steps import hold

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("round_", range(12))
def test_the_replaced_hold_passes_its_slot_to_the_waiting_patient(round_):
    doctor = DoctorFactory()
    first, second = (TimeSlotFactory(doctor=doctor, start_time=time(10 + n)) for n in range(2))
    waiting = WaitlistEntryFactory(doctor=doctor)
    holder = PatientFactory()
    replies = run_together([lambda s=s: hold(client_for(holder), s) for s in (first, second)])

    assert [r.status_code for r in replies] == [201, 201]
    kept = Hold.objects.live().get(patient=holder)
    given_up = second if kept.slot_id == first.id else first
    waiting.refresh_from_db()
    assert waiting.status == WaitlistEntry.Status.OFFERED
    assert (waiting.offer.slot_id, waiting.offer.is_live) == (given_up.id, True)
