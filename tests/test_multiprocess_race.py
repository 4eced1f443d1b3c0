"""Two gunicorn processes on one PostgreSQL database, 24 clients racing for a slot.

The production shape in miniature: the guarantee must hold across processes
(separate connections, separate memory), not only across threads of one.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import time as dt_time
from pathlib import Path

import pytest
from django.db import connection

from doctor.models import Booking, Hold, TimeSlot
from tests.conftest import bearer, run_together
from tests.factories import BookingFactory, DoctorFactory, PatientFactory, TimeSlotFactory, tomorrow

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
CLIENTS = 24
ROUNDS = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(base):
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/api/health/", timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn at {base} did not come up")


@pytest.fixture
def two_servers(transactional_db):
    """Two separate gunicorn masters (one worker each) on the test database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",  # same SECRET_KEY as the tokens below
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "THROTTLE_RATE_BOOKING": "100000/min",
    }
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [GUNICORN, "config.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base in bases:
            wait_until_up(base)
        yield bases
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)


def post(base, path, token, body=None, **headers):
    request = urllib.request.Request(
        f"{base}{path}",
        method="POST",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": token, "Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def book(base, slot_id, token, **headers):
    return post(base, f"/api/doctor/timeslots/{slot_id}/book/", token, **headers)


def hold(base, slot_id, token):
    return post(base, f"/api/doctor/timeslots/{slot_id}/hold/", token)


def race(bases, slot_id, tokens):
    # Half the clients to each process.
    calls = [(lambda i=i: book(bases[i % 2], slot_id, tokens[i])) for i in range(len(tokens))]
    return run_together(calls)


def test_two_processes_give_exactly_one_booking_per_slot_in_every_round(two_servers):
    patients = PatientFactory.create_batch(CLIENTS)
    tokens = [bearer(p) for p in patients]
    slots = [TimeSlotFactory(date=tomorrow(), start_time=dt_time(8 + n)) for n in range(ROUNDS)]

    for slot in slots:
        results = race(two_servers, slot.id, tokens)

        wins = [body for code, body in results if code == 200]
        assert len(wins) == 1, results
        assert sorted(code for code, _ in results) == [200] + [400] * (CLIENTS - 1)
        assert all(b == {"message": "Slot already booked"} for c, b in results if c != 200)
        booking = Booking.objects.get(slot=slot)  # exactly one row, and it is the winner's
        assert (booking.id, booking.patient_id, booking.status) == (
            wins[0]["booking_id"],
            wins[0]["user_id"],
            "booked",
        )
        slot.refresh_from_db()
        assert (slot.is_booked, slot.is_available) == (True, False)
    assert Booking.objects.count() == ROUNDS
    assert TimeSlot.objects.filter(is_booked=True).count() == ROUNDS


# --- the booking journey across processes (Part 3) -------------------------------------


def spread(bases, calls):
    """Run calls(base) together, alternating between the two processes."""
    return run_together([lambda i=i, c=c: c(bases[i % 2]) for i, c in enumerate(calls)])


def test_sixteen_patients_holding_one_slot_across_processes_get_one_hold(two_servers):
    slot = TimeSlotFactory()
    tokens = [bearer(p) for p in PatientFactory.create_batch(16)]

    results = spread(two_servers, [lambda b, t=t: hold(b, slot.id, t) for t in tokens])

    assert sorted(code for code, _ in results) == [201] + [400] * 15
    assert all(body == {"message": "Slot is held"} for code, body in results if code == 400)
    assert Hold.objects.filter(slot=slot, status="active").count() == 1


def test_holds_and_bookings_racing_across_processes_leave_one_owner(two_servers):
    slots = [TimeSlotFactory(start_time=dt_time(8 + n)) for n in range(ROUNDS)]
    tokens = [bearer(p) for p in PatientFactory.create_batch(12)]

    for slot in slots:
        calls = [lambda b, t=t, s=slot: hold(b, s.id, t) for t in tokens[:6]]
        calls += [lambda b, t=t, s=slot: book(b, s.id, t) for t in tokens[6:]]
        results = spread(two_servers, calls)

        assert sum(code in (200, 201) for code, _ in results) == 1, results
        live = Hold.objects.live().filter(slot=slot).count()
        booked = Booking.objects.filter(slot=slot, status="booked").count()
        assert live + booked == 1


def test_ten_retries_with_one_key_across_processes_book_once(two_servers):
    slot = TimeSlotFactory()
    token = bearer(PatientFactory())
    key = {"Idempotency-Key": "journey-retry-1"}

    results = spread(two_servers, [lambda b: book(b, slot.id, token, **key)] * 10)

    booking = Booking.objects.get(slot=slot)
    in_progress = {"message": "A request with this Idempotency-Key is in progress"}
    for code, body in results:
        assert (code == 200 and body["booking_id"] == booking.id) or (
            code == 409 and body == in_progress
        ), results
    assert any(code == 200 for code, _ in results)


def test_eight_patients_rescheduling_into_one_slot_across_processes(two_servers):
    doctor = DoctorFactory()
    target = TimeSlotFactory(doctor=doctor, start_time=dt_time(17, 0))
    bookings = [
        BookingFactory(slot__doctor=doctor, slot__start_time=dt_time(8 + n)) for n in range(8)
    ]
    calls = [
        lambda base, b=b: post(
            base,
            f"/api/doctor/user/bookings/{b.id}/reschedule/",
            bearer(b.patient),
            {"slot_id": target.id},
        )
        for b in bookings
    ]

    results = spread(two_servers, calls)

    assert sorted(code for code, _ in results) == [200] + [400] * 7
    assert Booking.objects.filter(slot=target, status="booked").count() == 1
    moved = Booking.objects.filter(status="rescheduled").count()
    assert moved == 1
    assert Booking.objects.filter(status="booked").count() == 8
