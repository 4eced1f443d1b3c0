"""The outbox end to end: real `celery -A config worker --beat` processes on the
Redis broker deliver to an HTTP receiver on 127.0.0.1 that verifies every
request with the standardwebhooks library. Workers consume both queues (the
periodic tasks' CELERY_QUEUE and `<CELERY_QUEUE>.webhooks`), or one each.

Runs on PostgreSQL (the workers are separate processes on the test database);
each test uses its own queue and key prefix in Redis database 5.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import time as dt_time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from kombu import Queue
from standardwebhooks import Webhook, WebhookVerificationError

from config.celery import app as celery_app
from doctor import services as doctor_services
from doctor.clock import clinic_now
from doctor.models import Hold
from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from notifications.models import Reminder
from tests import steps
from tests.conftest import client_for
from tests.factories import BookingFactory, PatientFactory, TimeSlotFactory, tomorrow

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).parent / "celery"
BROKER_URL = "redis://127.0.0.1:6379/5"
SECRET = "whsec_" + "dGVzdC13b3JrZXItc2VjcmV0LTEyMzQ1Njc4OTA="
WAIT = 30  # seconds: the bound of every wait below


def wait_for(condition, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Receiver(ThreadingHTTPServer):
    """Answers each POST from `plan` (a status code; "hang": hold the request
    until released; "drip": a status line, then a header a second until released),
    then `otherwise` (200); records (path, webhook-id, payload, reply)."""

    daemon_threads = True

    def __init__(self, otherwise=200):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.plan, self.calls, self.lock = [], [], threading.Lock()
        self.otherwise = otherwise
        self.hanging, self.release = threading.Event(), threading.Event()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def delivered(self):
        return [c for c in self.calls if c[3] == 200]


class ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        try:
            payload = Webhook(SECRET).verify(body, dict(self.headers))
        except WebhookVerificationError as error:
            payload, reply = str(error), 400
        else:
            with self.server.lock:
                reply = self.server.plan.pop(0) if self.server.plan else self.server.otherwise
        self.server.calls.append((self.path, self.headers["webhook-id"], payload, reply))
        if reply == "hang":
            self.server.hanging.set()
            self.server.release.wait(WAIT)
            return
        if reply == "drip":
            self.drip()
            return
        self.send_response(reply)
        self.end_headers()

    def drip(self):
        # Every read the sender makes gets a line within a second: only a
        # deadline for the whole attempt ends it.
        self.server.hanging.set()
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for n in range(WAIT):
                self.wfile.flush()
                if self.server.release.wait(1):
                    break
                self.wfile.write(f"x-drip-{n}: {n}\r\n".encode())
            self.wfile.write(b"content-length: 0\r\n\r\n")
        except OSError:
            pass  # the sender gave up

    def log_message(self, *args):
        pass


@pytest.fixture
def redis_db():
    client = redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"needs Redis at {BROKER_URL} for the Celery broker")
    return client


@pytest.fixture
def queue(redis_db):
    """A queue and key prefix of this test only; this process publishes there too."""
    name = f"quickmed-test-{uuid.uuid4().hex[:12]}"
    conf = {
        "broker_url": BROKER_URL,
        "task_default_queue": name,
        "task_queues": [Queue(name), Queue(f"{name}.webhooks")],
        "task_routes": {"events.tasks.deliver": {"queue": f"{name}.webhooks"}},
        "broker_transport_options": {"global_keyprefix": f"{name}:"},
    }
    saved = {key: celery_app.conf[key] for key in conf}
    celery_app.conf.update(conf)
    reset_producers()
    yield name
    celery_app.conf.update(saved)
    reset_producers()
    for key in redis_db.scan_iter(f"{name}:*"):
        redis_db.delete(key)


def reset_producers():
    # The app caches its broker connections and queue table; drop them so the
    # next publish uses the configuration just set.
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.__dict__.pop("amqp", None)


@pytest.fixture
def receiver(settings):
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # The environment's endpoint (WEBHOOK_URL), created by the worker's sweep.
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = server.url(), SECRET
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def start_worker(transactional_db, queue, receiver, tmp_path):
    """start_worker() runs one `celery -A config worker --beat` on the test database,
    consuming both queues; start_worker(webhooks=False) one with beat for the
    periodic tasks' queue only, start_worker(periodic=False) one without beat for
    the webhooks' queue only."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "test-worker-secret-key-" + "x" * 40,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_QUEUE": queue,
        "WEBHOOK_URL": receiver.url(),
        "WEBHOOK_SECRET": SECRET,
        # Seconds instead of minutes, so the proof runs in seconds.
        "EVENTS_SWEEP_SECONDS": "0.5",
        "WEBHOOK_RETRY_SECONDS": "0.5",
        "WEBHOOK_TIMEOUT_SECONDS": "3",
        "WEBHOOK_LEASE_SECONDS": "4",
        "REMINDERS_SWEEP_SECONDS": "0.5",
        "WAITLIST_SWEEP_SECONDS": "0.5",
        # The receivers listen on http://127.0.0.1.
        "WEBHOOK_ALLOW_HTTP": "1",
        "WEBHOOK_ALLOW_PRIVATE": "1",
    }
    env.pop("DEBUG", None)
    workers = []

    def start(periodic=True, webhooks=True):
        n = len(workers)
        queues = [queue] * periodic + [f"{queue}.webhooks"] * webhooks
        command = [CELERY, "-A", "config", "worker", "-Q", ",".join(queues), "-c", "2"]
        command += ["-n", f"w{n}@%h", "--without-gossip", "--without-mingle"]
        if periodic:
            command += ["--beat", "-s", str(tmp_path / f"beat-{n}")]
        log = open(tmp_path / f"worker-{n}.log", "wb")  # noqa: SIM115 (closed below)
        # Its own process group: SIGKILL reaches the pool and beat children too.
        worker = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
        workers.append((worker, log))
        # The worker's sweep makes WEBHOOK_URL's endpoint row; events before it go nowhere.
        endpoint = WebhookEndpoint.objects.filter(url=receiver.url())
        wait_for(endpoint.exists, "the worker's sweep to add the environment's endpoint")
        return worker

    yield start
    for worker, log in workers:
        kill(worker)
        log.close()


def kill(worker):
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def book(patient, slot):
    response = steps.book(client_for(patient), slot)
    assert response.status_code == 200, response.content
    return response.json()["booking_id"]


def delivery_states():
    return sorted(Delivery.objects.values_list("status", flat=True))


def test_a_booking_is_delivered_once_signed_and_a_rolled_back_one_never(start_worker, receiver):
    patient = PatientFactory()
    rolled_back_slot, slot = TimeSlotFactory(), TimeSlotFactory(start_time=dt_time(11))
    with pytest.raises(RuntimeError), transaction.atomic():
        doctor_services.slot_book(slot_id=rolled_back_slot.id, patient=patient)
        raise RuntimeError("the request failed after booking")
    start_worker()

    booking_id = book(patient, slot)

    wait_for(lambda: delivery_states() == ["delivered"], "the delivery")
    event = Event.objects.get()  # none of the rolled-back booking
    ((path, webhook_id, payload, reply),) = receiver.calls
    assert (path, webhook_id, reply) == ("/hook", str(event.id), 200)
    listed = client_for(patient).get(reverse("user-bookings")).json()
    assert payload == {
        "type": "booking.created",
        "timestamp": event.created_at.isoformat(),
        "data": listed[0],
    }
    assert listed[0]["id"] == booking_id
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")


def test_a_receiver_failing_twice_gets_the_third_attempt_with_the_same_webhook_id(
    start_worker, receiver
):
    receiver.plan = [500, 500]
    start_worker()

    book(PatientFactory(), TimeSlotFactory())

    wait_for(lambda: delivery_states() == ["delivered"], "the third attempt")
    event = Event.objects.get()
    assert [(c[1], c[3]) for c in receiver.calls] == [(str(event.id), r) for r in (500, 500, 200)]
    codes = DeliveryAttempt.objects.order_by("number").values_list("number", "status_code")
    assert list(codes) == [(1, 500), (2, 500), (3, 200)]


def test_a_worker_killed_mid_delivery_loses_nothing(start_worker, receiver):
    receiver.plan = ["hang"]
    first = start_worker()
    book(PatientFactory(), TimeSlotFactory())
    assert receiver.hanging.wait(WAIT), "the first attempt never reached the receiver"

    kill(first)  # SIGKILL, mid-request
    start_worker()

    wait_for(lambda: delivery_states() == ["delivered"], "delivery by the second worker")
    event = Event.objects.get()
    assert [(c[1], c[3]) for c in receiver.calls] == [(str(event.id), "hang"), (str(event.id), 200)]
    attempts = DeliveryAttempt.objects.order_by("number")
    # The killed worker's attempt stays on record, without an outcome.
    assert [(a.number, a.finished_at is None, a.status_code) for a in attempts] == [
        (1, True, None),
        (2, False, 200),
    ]


def test_two_workers_deliver_each_event_once_per_endpoint(start_worker, receiver):
    WebhookEndpoint.objects.create(url=receiver.url("/second"), secret=SECRET)
    # Both with --beat: the claim makes two sweeps harmless.
    start_worker()
    start_worker()
    patients = PatientFactory.create_batch(8)
    slots = [TimeSlotFactory(date=tomorrow(), start_time=dt_time(8 + n)) for n in range(8)]

    for patient, slot in zip(patients, slots, strict=True):
        book(patient, slot)

    wait_for(lambda: delivery_states() == ["delivered"] * 16, "16 deliveries")
    event_ids = {str(pk) for pk in Event.objects.values_list("id", flat=True)}
    received = [(c[0], c[1]) for c in receiver.delivered()]
    assert sorted(received) == sorted((p, e) for p in ("/hook", "/second") for e in event_ids)
    assert len(receiver.calls) == 16
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
    assert {c[2]["type"] for c in receiver.calls} == {"booking.created"}  # all verified


@pytest.fixture
def slow_receiver():
    server = Receiver(otherwise="drip")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def test_a_slow_and_a_down_receiver_hold_up_neither_the_healthy_one_nor_the_periodic_tasks(
    start_worker, receiver, slow_receiver
):
    """Production's shape: one worker with beat on the periodic tasks' queue, one
    on the webhooks' queue. One endpoint drips its headers for WAIT seconds per
    request, one refuses connections, while patients book; the healthy endpoint
    (WEBHOOK_URL) gets every event once within the minute, and reminders and
    the waitlist's pass-on run within seconds all along."""
    WebhookEndpoint.objects.create(url=slow_receiver.url("/slow"), secret=SECRET)
    down = socket.create_server(("127.0.0.1", 0))
    down_url = f"http://127.0.0.1:{down.getsockname()[1]}/down"
    down.close()  # nothing listens there now: connections are refused
    WebhookEndpoint.objects.create(url=down_url, secret=SECRET)
    start_worker(webhooks=False)
    start_worker(periodic=False)
    patients = PatientFactory.create_batch(6)
    slots = [TimeSlotFactory(date=tomorrow(), start_time=dt_time(8 + n)) for n in range(6)]
    started = time.monotonic()

    for patient, slot in zip(patients, slots, strict=True):
        book(patient, slot)
    # Both of the webhook worker's processes in a slow attempt.
    wait_for(lambda: len(slow_receiver.calls) >= 2, "two attempts at the slow receiver")

    # The periodic tasks, with both webhook processes held by the slow receiver.
    soon = clinic_now() + timedelta(hours=1)
    reminded = BookingFactory(
        slot=TimeSlotFactory(
            date=soon.date(),
            start_time=soon.time().replace(second=0, microsecond=0),
            duration=1,
            is_booked=True,
            is_available=False,
        )
    )
    hold, _ = doctor_services.hold_place(slot_id=TimeSlotFactory().id, patient=PatientFactory())
    Hold.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    asked = time.monotonic()
    in_flight = sum(c[3] == "drip" for c in slow_receiver.calls)
    wait_for(Reminder.objects.filter(booking=reminded).exists, "the reminder", timeout=10)
    wait_for(lambda: Hold.objects.get(pk=hold.pk).status != "active", "the pass-on", timeout=10)
    periodic_took = time.monotonic() - asked

    events = {
        str(pk) for pk in Event.objects.filter(type="booking.created").values_list("id", flat=True)
    }
    healthy = Delivery.objects.filter(endpoint__url=receiver.url())
    wait_for(lambda: healthy.filter(status="delivered").count() == 6, "the healthy endpoint", 60)
    healthy_took = time.monotonic() - started
    assert sorted(c[1] for c in receiver.calls) == sorted(events)  # each once
    assert {c[3] for c in receiver.calls} == {200}
    assert not Delivery.objects.filter(
        endpoint__url__in=[down_url, slow_receiver.url("/slow")], status="delivered"
    ).exists()
    slow_attempts = DeliveryAttempt.objects.filter(
        delivery__endpoint__url=slow_receiver.url("/slow")
    )
    finished = slow_attempts.exclude(finished_at=None)
    assert {a.error for a in finished} == {"Timeout: no reply within 3 s"}
    assert all((a.finished_at - a.started_at).total_seconds() < 4 for a in finished)  # the lease
    print(
        f"drips in flight: {in_flight}; reminder and pass-on within {periodic_took:.1f} s; "
        f"healthy endpoint: 6 events delivered within {healthy_took:.1f} s; "
        f"slow endpoint attempts: {slow_attempts.count()}"
    )
