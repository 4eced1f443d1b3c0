"""The events outbox: emitted in the booking's transaction, signed per Standard
Webhooks, retried with backoff for 24 hours, claimed by one worker at a time."""

import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from events import services
from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from events.tasks import DeliveryFailed, deliver
from tests.conftest import on_postgres, run_together
from tests.factories import BookingFactory, TimeSlotFactory, WebhookEndpointFactory
from tests.steps import book, cancel

pytestmark = pytest.mark.django_db

ENV_SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"


def emit(event_type="booking.created"):
    """A new event's delivery to the one endpoint (created on first use)."""
    endpoint = WebhookEndpoint.objects.first() or WebhookEndpointFactory()
    event = services.event_emit(event_type, {"id": 1})
    return Delivery.objects.get(event=event, endpoint=endpoint)


def test_booking_emits_booking_created_with_the_booking_as_the_patient_lists_it(
    patient_client, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpointFactory()
    slot = TimeSlotFactory()

    with (
        mock.patch("events.services.enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        book(patient_client, slot)

    event = Event.objects.get()
    listed = patient_client.get(reverse("user-bookings")).json()
    assert (event.type, event.data) == ("booking.created", listed[0])
    delivery = Delivery.objects.get()
    assert (delivery.event, delivery.endpoint, delivery.status) == (event, endpoint, "pending")
    enqueue.assert_called_once_with([delivery.pk])


def test_cancelling_emits_booking_cancelled_with_the_cancelled_booking(patient, patient_client):
    booking = BookingFactory(patient=patient)

    cancel(patient_client, booking.slot)

    event = Event.objects.get()
    listed = patient_client.get(reverse("user-bookings")).json()
    assert (event.type, event.data, event.data["status"]) == (
        "booking.cancelled",
        listed[0],
        "cancelled",
    )


def test_a_rolled_back_change_emits_nothing_and_enqueues_nothing(
    django_capture_on_commit_callbacks,
):
    WebhookEndpointFactory()

    with (
        mock.patch("events.services.enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.event_emit("booking.created", {"id": 1})
        raise RuntimeError("the booking failed after the event was written")

    assert (Event.objects.count(), Delivery.objects.count()) == (0, 0)
    enqueue.assert_not_called()


def test_a_refused_booking_emits_nothing(patient_client):
    slot = TimeSlotFactory(is_available=False)

    response = book(patient_client, slot)

    assert response.status_code == 400
    assert Event.objects.count() == 0


def test_an_event_is_delivered_only_to_enabled_endpoints_that_want_its_type():
    wants_all = WebhookEndpointFactory()
    wants_it = WebhookEndpointFactory(event_types=["booking.created"])
    WebhookEndpointFactory(event_types=["booking.cancelled"])
    WebhookEndpointFactory(enabled=False)

    event = services.event_emit("booking.created", {})

    assert {d.endpoint for d in event.deliveries.all()} == {wants_all, wants_it}


def test_the_sweep_creates_the_environment_endpoint_once_and_it_gets_every_event(settings):
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = "http://127.0.0.1:9/env", ENV_SECRET

    services.sweep()
    services.sweep()
    services.event_emit("booking.created", {})
    services.event_emit("waitlist.offered", {})

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.secret, endpoint.event_types) == (
        settings.WEBHOOK_URL,
        ENV_SECRET,
        [],
    )
    assert Delivery.objects.filter(endpoint=endpoint).count() == 2


def test_emitting_an_event_never_touches_the_endpoint_rows(settings, django_assert_num_queries):
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = "http://127.0.0.1:9/env", ENV_SECRET

    # The event and the enabled endpoints' deliveries: no get_or_create of WEBHOOK_URL's
    # row. One statement on PostgreSQL (a writable WITH), two on SQLite.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        services.event_emit("booking.created", {})

    assert not WebhookEndpoint.objects.exists()


def test_an_event_made_before_the_environment_endpoint_existed_is_not_sent_to_it(settings):
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = "http://127.0.0.1:9/env", ENV_SECRET
    before = services.event_emit("booking.created", {})

    services.sweep()

    assert not before.deliveries.exists()


def test_a_new_secret_in_the_environment_replaces_the_stored_one_at_the_sweep(settings):
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = "http://127.0.0.1:9/env", ENV_SECRET
    WebhookEndpointFactory(url=settings.WEBHOOK_URL)

    services.sweep()

    assert WebhookEndpoint.objects.get().secret == ENV_SECRET


def test_the_request_is_signed_so_the_library_verifies_it():
    delivery = emit()
    now = timezone.now()

    request = services.signed_request(delivery, now)

    headers = dict(request.header_items())
    payload = Webhook(delivery.endpoint.secret).verify(request.data, headers)
    event = delivery.event
    assert payload == {
        "type": "booking.created",
        "timestamp": event.created_at.isoformat(),
        "data": {"id": 1},
    }
    assert (headers["Webhook-id"], headers["Webhook-timestamp"]) == (
        str(event.id),
        str(int(now.timestamp())),
    )
    assert request.get_method() == "POST"


def test_a_2xx_reply_marks_the_delivery_delivered_and_logs_the_attempt():
    delivery = emit()

    with mock.patch("events.services.post", return_value=(204, "")):
        services.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.leased_until) == ("delivered", 1, None)
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 204, "")
    assert delivery.delivered_at == attempt.finished_at


def test_a_failed_attempt_is_retried_after_the_first_backoff(settings):
    settings.WEBHOOK_RETRY_SECONDS = 30
    delivery = emit()

    with mock.patch("events.services.post", return_value=(None, "URLError: refused")):
        services.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    attempt = DeliveryAttempt.objects.get()
    assert (delivery.status, delivery.attempts, delivery.leased_until) == ("pending", 1, None)
    assert delivery.next_attempt_at == attempt.finished_at + timedelta(seconds=30)
    assert (attempt.status_code, attempt.error) == (None, "URLError: refused")


def test_a_delivery_not_yet_due_is_not_attempted():
    delivery = emit()
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)
    )

    with mock.patch("events.services.post") as post:
        services.delivery_attempt(delivery.pk)

    post.assert_not_called()


def test_backoff_doubles_from_the_first_retry_within_a_minute_up_to_an_hour(settings):
    settings.WEBHOOK_RETRY_SECONDS = 30

    delays = [services.retry_delay(n).total_seconds() for n in range(1, 11)]

    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_a_retry_that_would_fall_past_24_hours_marks_the_delivery_failed():
    delivery = emit()
    Delivery.objects.filter(pk=delivery.pk).update(
        give_up_at=timezone.now() + timedelta(seconds=10)
    )

    with mock.patch("events.services.post", return_value=(500, "")):
        services.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)


@pytest.mark.parametrize(
    "margin, status",
    [(timedelta(0), "failed"), (timedelta(microseconds=1), "pending")],
    ids=["retry-exactly-at-give-up-fails", "retry-a-microsecond-before-give-up-stays-pending"],
)
def test_a_retry_landing_exactly_at_give_up_at_fails_the_delivery(settings, margin, status):
    settings.WEBHOOK_RETRY_SECONDS = 30
    delivery = emit()
    now = timezone.now()
    done = now + timedelta(seconds=1)
    retry_at = done + timedelta(seconds=30)  # the first backoff
    Delivery.objects.filter(pk=delivery.pk).update(give_up_at=retry_at + margin)
    claimed = services.claim(delivery.pk, now)
    attempt = DeliveryAttempt.objects.create(
        delivery=claimed, number=1, started_at=now, finished_at=done, status_code=500
    )

    services.record_outcome(claimed, attempt)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.leased_until) == (status, None)
    if status == "failed":
        # No further attempt: nothing to sweep, nothing to claim, even later on.
        assert services.sweep(retry_at) == []
        assert services.claim(delivery.pk, retry_at) is None
    else:
        assert delivery.next_attempt_at == retry_at
        assert services.sweep(retry_at) == [delivery.pk]


def test_the_sweep_fails_pending_deliveries_older_than_24_hours_and_returns_the_due():
    old, due, later = emit(), emit(), emit()
    now = timezone.now()
    Delivery.objects.filter(pk=old.pk).update(give_up_at=now)
    Delivery.objects.filter(pk=later.pk).update(next_attempt_at=now + timedelta(minutes=1))

    assert services.sweep(now) == [due.pk]
    old.refresh_from_db()
    assert old.status == "failed"


def test_a_leased_delivery_is_not_swept_until_its_lease_runs_out():
    delivery = emit()
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(leased_until=now + timedelta(seconds=60))

    assert services.sweep(now) == []
    assert services.sweep(now + timedelta(seconds=61)) == [delivery.pk]


def test_a_claimed_delivery_cannot_be_claimed_again_until_the_lease_runs_out(settings):
    settings.WEBHOOK_LEASE_SECONDS = 60
    delivery = emit()
    now = timezone.now()

    first = services.claim(delivery.pk, now)
    second = services.claim(delivery.pk, now + timedelta(seconds=59))
    after_lease = services.claim(delivery.pk, now + timedelta(seconds=61))

    assert (first.attempts, second, after_lease.attempts) == (1, None, 2)


def test_a_delivered_delivery_is_never_claimed():
    delivery = emit()
    Delivery.objects.filter(pk=delivery.pk).update(status="delivered")

    assert services.claim(delivery.pk, timezone.now()) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_many_concurrent_claims_exactly_one_wins():
    assert on_postgres()
    delivery = emit()
    now = timezone.now()

    results = run_together([lambda: services.claim(delivery.pk, now)] * 8)

    assert sum(r is not None for r in results) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_enqueue_sends_one_task_per_delivery():
    with mock.patch("events.tasks.deliver.delay") as delay:
        services.enqueue([3, 4])

    assert delay.call_args_list == [mock.call(3), mock.call(4)]


def test_an_unreachable_broker_is_logged_and_the_booking_still_succeeds(
    patient_client, caplog, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory()
    slot = TimeSlotFactory()

    with (
        mock.patch("events.tasks.deliver.delay", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = book(patient_client, slot)

    assert response.status_code == 200
    assert Delivery.objects.get().status == "pending"  # the sweep will enqueue it
    assert "could not enqueue deliveries" in caplog.text


def test_a_secret_without_the_whsec_prefix_is_refused_by_the_admin_form():
    endpoint = WebhookEndpoint(url="http://127.0.0.1:9/x", secret="plain")

    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean()

    assert refused.value.message_dict == {"secret": ["A secret is whsec_ followed by base64."]}


@pytest.fixture
def staff(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_staff_see_events_deliveries_and_attempts_read_only_in_the_admin(staff):
    delivery = emit()
    with mock.patch("events.services.post", return_value=(500, "")):
        services.delivery_attempt(delivery.pk)
    attempt = DeliveryAttempt.objects.get()

    pages = [
        reverse("admin:events_event_change", args=[delivery.event_id]),
        reverse("admin:events_delivery_change", args=[delivery.pk]),
        reverse("admin:events_deliveryattempt_changelist"),
        reverse("admin:events_deliveryattempt_change", args=[attempt.pk]),
    ]

    assert [staff.get(page).status_code for page in pages] == [200] * 4
    assert "HTTP 500" in staff.get(pages[2]).content.decode()
    assert staff.get(reverse("admin:events_delivery_add")).status_code == 403
    response = staff.post(pages[1], {"status": "delivered"})
    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == "pending"


def test_staff_add_a_webhook_endpoint_in_the_admin(staff):
    response = staff.post(
        reverse("admin:events_webhookendpoint_add"),
        {
            "url": "https://hooks.example.com/q",
            "secret": ENV_SECRET,
            "event_types": '["booking.created"]',
            "enabled": "on",
        },
    )

    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.secret, endpoint.event_types, endpoint.enabled) == (
        "https://hooks.example.com/q",
        ENV_SECRET,
        ["booking.created"],
        True,
    )


def test_event_types_that_are_not_a_list_of_names_are_refused_in_the_admin(staff):
    response = staff.post(
        reverse("admin:events_webhookendpoint_add"),
        {"url": "https://hooks.example.com/q", "secret": ENV_SECRET, "event_types": '"all"'},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "event_types": ['A list of event types, e.g. ["booking.created"].']
    }
    assert WebhookEndpoint.objects.count() == 0


def test_a_receiver_that_is_not_listening_is_a_recorded_error_and_a_retry(settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    delivery = emit()  # to 127.0.0.1:9, where nothing listens

    services.delivery_attempt(delivery.pk)

    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error == "ConnectionRefusedError: [Errno 111] Connection refused"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)


class RedirectingReceiver(BaseHTTPRequestHandler):
    def do_POST(self):
        self.send_response(302)
        self.send_header("location", "/elsewhere")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt():
    server = HTTPServer(("127.0.0.1", 0), RedirectingReceiver)
    threading.Thread(target=server.handle_request, daemon=True).start()
    endpoint = WebhookEndpointFactory(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    delivery = emit()

    services.delivery_attempt(delivery.pk)

    server.server_close()
    assert DeliveryAttempt.objects.get().status_code == 302
    delivery.refresh_from_db()
    assert (delivery.endpoint, delivery.status) == (endpoint, "pending")


def task_log(caplog):
    """(level, logger, message, has a traceback) of each record the task logged."""
    return [
        (r.levelname, r.name, r.getMessage(), r.exc_info is not None)
        for r in caplog.records
        if r.name in ("events.tasks", "celery.app.trace")
    ]


def test_a_failed_attempt_fails_its_task_as_expected_with_a_warning_and_no_traceback(
    caplog, settings
):
    settings.WEBHOOK_RETRY_SECONDS = 30
    delivery = emit()

    with mock.patch("events.services.post", return_value=(500, "")):
        result = deliver.apply(args=(delivery.pk,))

    assert result.failed()
    assert str(result.result) == f"delivery {delivery.pk} attempt 1: HTTP 500"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)  # the sweep retries it
    warning, (level, name, message, traceback) = task_log(caplog)
    assert warning == (
        "WARNING",
        "events.tasks",
        f"webhook delivery {delivery.pk} attempt 1 failed: HTTP 500; "
        f"next attempt at {delivery.next_attempt_at.isoformat()}",
        False,
    )
    assert (level, name, traceback) == ("INFO", "celery.app.trace", False)
    assert "raised expected: DeliveryFailed(" in message
    assert deliver.throws == (DeliveryFailed,)


def test_an_attempt_that_gives_up_says_so(caplog):
    delivery = emit()
    Delivery.objects.filter(pk=delivery.pk).update(
        give_up_at=timezone.now() + timedelta(seconds=10)
    )

    with mock.patch("events.services.post", return_value=(None, "URLError: refused")):
        result = deliver.apply(args=(delivery.pk,))

    assert isinstance(result.result, DeliveryFailed)
    assert task_log(caplog)[0][2] == (
        f"webhook delivery {delivery.pk} attempt 1 failed: URLError: refused; given up"
    )


def test_a_2xx_attempt_succeeds_its_task_without_a_warning(caplog):
    delivery = emit()

    with mock.patch("events.services.post", return_value=(204, "")):
        result = deliver.apply(args=(delivery.pk,))

    assert result.successful()
    assert [level for level, *_ in task_log(caplog)] == ["INFO"]  # "succeeded"
    assert "succeeded" in task_log(caplog)[0][2]


def test_a_task_that_makes_no_attempt_succeeds(caplog):
    delivery = emit()
    with mock.patch("events.services.post", return_value=(500, "")):
        deliver.apply(args=(delivery.pk,))
    caplog.clear()

    # Its next attempt is not due yet: a second task for it (a duplicate, or
    # the sweep's) finds nothing to do, and is no failure.
    with mock.patch("events.services.post") as post:
        result = deliver.apply(args=(delivery.pk,))

    post.assert_not_called()
    assert result.successful()
    assert [level for level, *_ in task_log(caplog)] == ["INFO"]


def test_a_failed_task_is_acknowledged_not_requeued_or_retried_by_celery(settings):
    # With acks_late, acks_on_failure decides: True acknowledges the message.
    assert (deliver.acks_late, deliver.acks_on_failure) == (True, True)
    assert not getattr(deliver, "autoretry_for", ())


# -- issue 18: a deadline per attempt, disabled endpoints, where webhooks may go --


class DrippingReceiver(BaseHTTPRequestHandler):
    """A status line at once, then one header every half second for four seconds:
    every read gets data well within any per-read socket timeout."""

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for n in range(8):
                self.wfile.flush()
                time.sleep(0.5)
                self.wfile.write(f"x-drip-{n}: {n}\r\n".encode())
            self.wfile.write(b"content-length: 0\r\n\r\n")
        except OSError:
            pass  # the sender gave up: that is the point

    def log_message(self, *args):
        pass


def serve_once(handler):
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    return server


def test_a_receiver_that_drips_its_headers_is_cut_off_at_the_deadline_and_not_delivered(
    settings,
):
    settings.WEBHOOK_TIMEOUT_SECONDS, settings.WEBHOOK_LEASE_SECONDS = 1, 2
    server = serve_once(DrippingReceiver)
    WebhookEndpointFactory(url=f"http://127.0.0.1:{server.server_address[1]}/slow")
    delivery = emit()

    started = time.monotonic()
    services.delivery_attempt(delivery.pk)
    took = time.monotonic() - started

    server.server_close()
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (None, "Timeout: no reply within 1 s")
    assert took < 1.8  # the deadline, not the four seconds of headers
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    # Finished within its lease: no second worker could have started meanwhile.
    assert attempt.finished_at < attempt.started_at + timedelta(seconds=2)


def test_webhook_deliveries_go_to_a_queue_of_their_own_the_periodic_tasks_to_the_default():
    from config.celery import app

    def queue(task):
        return app.amqp.router.route({}, task)["queue"].name

    default = settings_module().CELERY_TASK_DEFAULT_QUEUE
    assert queue("events.tasks.deliver") == f"{default}.webhooks"
    periodic = [entry["task"] for entry in settings_module().CELERY_BEAT_SCHEDULE.values()]
    assert sorted(periodic) == [
        "doctor.tasks.pass_on_lapsed_holds",
        "events.tasks.sweep",
        "idempotency.tasks.purge_expired_keys",
        "notifications.tasks.send_reminders",
        "schedules.tasks.roll_horizons",
        "schedules.tasks.sweep_unfit_slots",
    ]
    assert {queue(task) for task in periodic} == {default}


def settings_module():
    from django.conf import settings

    return settings


def test_a_disabled_endpoint_gets_no_further_attempt_and_the_sweep_fails_its_deliveries():
    delivery = emit()
    WebhookEndpoint.objects.update(enabled=False)

    with mock.patch("events.services.post") as post:
        assert services.delivery_attempt(delivery.pk) is None
        assert services.claim(delivery.pk, timezone.now()) is None

    post.assert_not_called()
    assert services.sweep() == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 0)


def test_a_retrying_delivery_stops_when_its_endpoint_is_disabled():
    delivery = emit()
    with mock.patch("events.services.post", return_value=(503, "")):
        services.delivery_attempt(delivery.pk)
    WebhookEndpoint.objects.update(enabled=False)
    later = timezone.now() + timedelta(hours=1)  # the retry is due

    assert services.sweep(later) == []
    assert services.claim(delivery.pk, later) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)


def test_when_webhook_url_changes_the_old_environment_endpoint_is_disabled(settings):
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = "http://127.0.0.1:9/old", ENV_SECRET
    services.sweep()
    settings.WEBHOOK_URL = "http://127.0.0.1:9/new"

    services.sweep()
    event = services.event_emit("booking.created", {})

    rows = WebhookEndpoint.objects.values_list("url", "enabled", "from_environment")
    assert sorted(rows) == [
        ("http://127.0.0.1:9/new", True, True),
        ("http://127.0.0.1:9/old", False, False),
    ]
    assert [d.endpoint.url for d in event.deliveries.all()] == ["http://127.0.0.1:9/new"]


def test_when_webhook_url_is_unset_the_environment_endpoint_is_disabled(settings):
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = "http://127.0.0.1:9/env", ENV_SECRET
    delivery_before = None
    services.sweep()
    delivery_before = emit()
    settings.WEBHOOK_URL = ""

    services.sweep()

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.enabled, endpoint.from_environment) == (False, False)
    delivery_before.refresh_from_db()
    assert delivery_before.status == "failed"  # its pending delivery gets no attempt
    assert not services.event_emit("booking.created", {}).deliveries.exists()


def test_staff_may_disable_the_environment_endpoint_and_the_sweep_leaves_it_so(settings):
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = "http://127.0.0.1:9/env", ENV_SECRET
    services.sweep()
    WebhookEndpoint.objects.update(enabled=False)

    services.sweep()

    assert WebhookEndpoint.objects.values_list("enabled", "from_environment").get() == (
        False,
        True,
    )


def test_the_environment_takes_over_a_row_of_its_url_and_enables_it(settings):
    WebhookEndpointFactory(url="http://127.0.0.1:9/env", enabled=False)
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = "http://127.0.0.1:9/env", ENV_SECRET

    services.sweep()

    assert WebhookEndpoint.objects.values_list("enabled", "from_environment", "secret").get() == (
        True,
        True,
        ENV_SECRET,
    )


PUBLIC = "93.184.215.14"


def resolving_to(*addresses):
    """A getaddrinfo for every name, answering `addresses` (and counting calls)."""

    def getaddrinfo(host, port, *args, **kwargs):
        getaddrinfo.calls.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    getaddrinfo.calls = []
    return mock.patch("socket.getaddrinfo", getaddrinfo)


@pytest.fixture
def production_rules(settings):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = False


def refusal(url):
    with pytest.raises(ValidationError) as refused:
        WebhookEndpoint(url=url).full_clean()
    return refused.value.message_dict["url"]


@pytest.mark.usefixtures("production_rules")
@pytest.mark.parametrize(
    "url, message",
    [
        ("https://127.0.0.1:1/", "127.0.0.1 is 127.0.0.1, not a public address."),
        ("https://[::1]:8000/x", "::1 is ::1, not a public address."),
        ("https://10.1.2.3/x", "10.1.2.3 is 10.1.2.3, not a public address."),
        (
            "https://169.254.169.254/latest",
            "169.254.169.254 is 169.254.169.254, not a public address.",
        ),
        ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is 127.0.0.1, not a public address."),
        ("http://93.184.215.14/x", "Only https URLs may receive webhooks."),
        ("ftp://93.184.215.14/x", "Only https URLs may receive webhooks."),
        ("https://user:pw@93.184.215.14/", "A webhook URL carries no user name or password."),
    ],
)
def test_an_endpoint_url_that_is_not_https_to_a_public_address_is_refused_at_save(url, message):
    assert refusal(url) == [message]


@pytest.mark.usefixtures("production_rules")
def test_a_name_resolving_to_an_internal_address_is_refused_at_save():
    with resolving_to(PUBLIC, "10.0.0.7"):
        assert refusal("https://hooks.partner.example/q") == [
            "hooks.partner.example is 10.0.0.7, not a public address."
        ]
    with resolving_to(PUBLIC):
        WebhookEndpoint(url="https://hooks.partner.example/q").full_clean()  # no error


@pytest.mark.usefixtures("production_rules")
def test_staff_cannot_add_a_loopback_endpoint_in_the_admin(staff):
    response = staff.post(
        reverse("admin:events_webhookendpoint_add"),
        {"url": "http://127.0.0.1:1/", "secret": ENV_SECRET, "event_types": "[]"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "url": ["Only https URLs may receive webhooks."]
    }
    assert not WebhookEndpoint.objects.exists()


def test_http_and_loopback_are_allowed_only_by_the_development_settings(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = False
    assert refusal("http://127.0.0.1:1/") == ["127.0.0.1 is 127.0.0.1, not a public address."]
    settings.WEBHOOK_ALLOW_PRIVATE = True
    WebhookEndpoint(url="http://127.0.0.1:1/", secret=ENV_SECRET).full_clean()  # no error


class OkReceiver(BaseHTTPRequestHandler):
    def do_POST(self):
        self.server.posts.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def ok_receiver():
    server = HTTPServer(("127.0.0.1", 0), OkReceiver)
    server.posts = []
    threading.Thread(target=server.handle_request, daemon=True).start()
    return server


def test_a_name_that_resolves_to_loopback_at_delivery_time_is_refused_and_not_contacted(
    settings,
):
    # Saved while the name was public; it now points at a port on the worker's host.
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    with resolving_to(PUBLIC):
        WebhookEndpointFactory(url=f"https://rebound.example:{port}/q").full_clean()
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = False
    delivery = emit()

    with resolving_to("127.0.0.1"):
        services.delivery_attempt(delivery.pk)

    with pytest.raises(TimeoutError), listener:
        listener.accept()  # nobody connected
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (
        None,
        "Refused: rebound.example is 127.0.0.1, not a public address.",
    )
    delivery.refresh_from_db()
    assert delivery.status == "pending"  # retried: the name may point back


def test_an_attempt_connects_to_the_address_it_checked_without_a_second_lookup():
    server = ok_receiver()
    port = server.server_address[1]
    WebhookEndpointFactory(url=f"http://receiver.test:{port}/q")
    delivery = emit()

    with resolving_to("127.0.0.1") as getaddrinfo:
        services.delivery_attempt(delivery.pk)

    server.server_close()
    assert (server.posts, getaddrinfo.calls) == (["/q"], ["receiver.test"])
    assert DeliveryAttempt.objects.get().status_code == 204


def test_an_ftp_endpoint_stored_before_the_rules_is_refused_at_delivery():
    WebhookEndpointFactory(url="ftp://127.0.0.1:21/hook")
    delivery = emit()

    services.delivery_attempt(delivery.pk)

    attempt = DeliveryAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (
        None,
        "Refused: Only https or http URLs may receive webhooks.",
    )
