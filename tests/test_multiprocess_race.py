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

from doctor.models import Booking, TimeSlot
from tests.conftest import bearer, run_together
from tests.factories import PatientFactory, TimeSlotFactory, tomorrow

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


def book(base, slot_id, token):
    request = urllib.request.Request(
        f"{base}/api/doctor/timeslots/{slot_id}/book/",
        method="POST",
        headers={"Authorization": token},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


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
