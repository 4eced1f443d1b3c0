"""The SQL statements of each write step, pinned: book, hold, hold-then-book, cancel
and reschedule, through the API as a client sends them (JWT, an Idempotency-Key),
with an enabled webhook endpoint (so the outbox fans out) and the list cache on
(its version is a database row here: no Redis). Transaction control (BEGIN,
COMMIT, SAVEPOINT, RELEASE) is not counted: it is no statement of the step's own.

Before issue 23 (main at ccdd495): book 14, hold 13, book of a held slot 15,
cancel 16, reschedule 20. docs/performance.md lists each statement that went.
With the audit trail (issue 21) each write step adds one statement: its audit
entries' one insert (doctor/unit.py). Then (issue 23, on PostgreSQL):
- every step that emits an event: the event, its webhook deliveries and (for one
  audit entry) the audit entry in one statement (events/services.py emit_sql: a
  writable WITH), two or one fewer;
- book 12 -> 9: and the booking cap counted in the slot's update (locks.set_booked);
- hold 12 -> 9: the patient's own hold's slot rides on the slots' lock (a scalar
  subquery), and the booking count, the rehold's first expiry and the patient's own
  hold are read in one statement once both locks are held (locks.hold_reads);
- cancel 13 -> 9: its booking is cancelled by the statement that finds it (UPDATE
  ... RETURNING, the slot's hold with it, so the unit reads no hold:
  locks.cancel_active_booking);
- reschedule 17 -> 14: the booking's status and both slots' holds in one read after
  the locks (locks.booking_status_and_holds).
"""

from datetime import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from doctor.models import Booking
from doctor.replies import BookedSerializer
from tests import steps
from tests.conftest import client_for
from tests.factories import (
    BookingFactory,
    DoctorFactory,
    PatientFactory,
    TimeSlotFactory,
    UserFactory,
    WebhookEndpointFactory,
)

pytestmark = pytest.mark.django_db

CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")

PG = connection.vendor == "postgresql"
# PostgreSQL's counts: the production database's. SQLite has no writable WITH: a
# write's audit entry, its outbox event and the event's deliveries, one statement on
# PostgreSQL (events/services.py emit_sql), are three there; a move's two audit
# entries are a bulk insert of their own on both, so a move sends one more there.
BOOK = 9 if PG else 11
HOLD = 9
BOOK_HELD = 10 if PG else 12
CANCEL = 9 if PG else 11
RESCHEDULE = 14 if PG else 15
# The desk's booking for a patient: the booking's statements but the patient's
# own read (here the desk user's), plus the patient's read, the desk's doctors,
# and the booking read again for its reply (DoctorBookingSerializer).
DESK_BOOK = 12 if PG else 14


@pytest.fixture(autouse=True)
def outbox_and_list_cache(settings):
    settings.LIST_CACHE = True
    WebhookEndpointFactory()


@pytest.fixture
def patient():
    return PatientFactory()


@pytest.fixture
def client(patient):
    return client_for(patient)


def statements(step):
    """(the step's response, the SQL statements it sent but transaction control)."""
    with CaptureQueriesContext(connection) as captured:
        response = step()
    sql = [q["sql"] for q in captured.captured_queries]
    return response, [s for s in sql if not s.lstrip().upper().startswith(CONTROL)]


def test_booking_sends_the_pinned_statements(client):
    slot = TimeSlotFactory()

    response, sql = statements(lambda: steps.book(client, slot, HTTP_IDEMPOTENCY_KEY="k-1"))

    assert response.status_code == 200
    assert len(sql) == BOOK, sql


def test_holding_sends_the_pinned_statements(client):
    slot = TimeSlotFactory()

    response, sql = statements(lambda: steps.hold(client, slot, HTTP_IDEMPOTENCY_KEY="k-1"))

    assert response.status_code == 201
    assert len(sql) == HOLD, sql


def test_booking_a_held_slot_sends_the_pinned_statements(client):
    slot = TimeSlotFactory()
    assert steps.hold(client, slot, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201

    response, sql = statements(lambda: steps.book(client, slot, HTTP_IDEMPOTENCY_KEY="k-2"))

    assert response.status_code == 200
    assert len(sql) == BOOK_HELD, sql


def test_a_desk_booking_sends_the_pinned_statements(patient):
    doctor = DoctorFactory()
    desk = UserFactory(user_type="desk")
    desk.desk_doctors.set([doctor])
    slot = TimeSlotFactory(doctor=doctor)
    body = {"slot_id": slot.pk, "patient_id": patient.pk}
    desk_client = client_for(desk)

    response, sql = statements(
        lambda: desk_client.post(
            reverse("desk-bookings"), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
    )

    assert response.status_code == 201
    assert len(sql) == DESK_BOOK, sql


def test_cancelling_sends_the_pinned_statements(client, patient):
    booking = BookingFactory(patient=patient)

    response, sql = statements(
        lambda: steps.cancel(client, booking.slot, HTTP_IDEMPOTENCY_KEY="k-1")
    )

    assert response.status_code == 200
    assert len(sql) == CANCEL, sql


def test_rescheduling_sends_the_pinned_statements(client, patient):
    booking = BookingFactory(patient=patient)
    target = TimeSlotFactory(doctor=booking.slot.doctor, start_time=time(15))

    response, sql = statements(
        lambda: steps.reschedule(client, booking, target, HTTP_IDEMPOTENCY_KEY="k-1")
    )

    assert response.status_code == 200
    assert len(sql) == RESCHEDULE, sql
    assert Booking.objects.get(slot=target).rescheduled_from == booking


def test_a_replay_reads_the_stored_reply_and_writes_nothing(client):
    slot = TimeSlotFactory()
    steps.book(client, slot, HTTP_IDEMPOTENCY_KEY="k-1")

    response, sql = statements(lambda: steps.book(client, slot, HTTP_IDEMPOTENCY_KEY="k-1"))

    assert response["Idempotent-Replayed"] == "true"
    # The token's user, the claim's insert (refused by the key's unique constraint), the key read.
    assert len(sql) == 3, sql


def test_the_booking_reply_is_what_its_serializer_would_give(client, patient):
    slot = TimeSlotFactory()

    reply = steps.book(client, slot).json()

    assert reply == BookedSerializer(Booking.objects.get(slot=slot)).data


def test_an_idempotent_booking_nests_no_savepoint_in_its_keys_transaction(client):
    """The unit of work runs inside the key's transaction with no savepoint of its
    own (doctor/unit.py slot_change(whole=True)): nothing between the key's claim
    and the slot's lock but the key's transaction opening."""
    slot = TimeSlotFactory()

    with CaptureQueriesContext(connection) as captured:
        steps.book(client, slot, HTTP_IDEMPOTENCY_KEY="k-1")

    sql = [q["sql"].lstrip().upper() for q in captured.captured_queries]
    claim = next(n for n, s in enumerate(sql) if s.startswith('INSERT INTO "IDEMPOTENCY'))
    lock = next(n for n, s in enumerate(sql) if s.startswith('SELECT "DOCTOR_TIMESLOT"'))
    # In a test the key's transaction is itself a savepoint of the test's: one.
    assert sum(s.startswith("SAVEPOINT") for s in sql[claim:lock]) == 1, sql[claim:lock]
