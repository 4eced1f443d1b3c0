"""Idempotency-Key on the writing POSTs: replay, 422 on reuse, 409 in flight, never twice."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import ScopedRateThrottle

from doctor import services as slot_services
from doctor.models import Booking, TimeSlot
from idempotency import services as key_services
from idempotency.decorators import fingerprint
from idempotency.models import IdempotencyKey
from tests import steps
from tests.conftest import booked_reply, client_for, run_together
from tests.factories import DoctorFactory, PatientFactory, TimeSlotFactory, tomorrow

pytestmark = pytest.mark.django_db

REPLAYED = "Idempotent-Replayed"


def book(client, slot, key=None, **extra):
    """Book `slot`, sending the Idempotency-Key `key` when there is one."""
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return steps.book(client, slot, **headers, **extra)


def slot_body(**overrides):
    body = {"date": str(tomorrow()), "start_time": "10:00", "end_time": "10:30"}
    return {**body, **overrides}


# --- replay ----------------------------------------------------------------------------


def test_a_retry_with_the_key_gets_the_first_reply_byte_for_byte(patient_client):
    slot = TimeSlotFactory()

    first = book(patient_client, slot, "k-1")
    again = book(patient_client, slot, "k-1")

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again[REPLAYED] == "true"
    assert REPLAYED not in first
    assert Booking.objects.filter(slot=slot).count() == 1


def test_the_first_reply_is_the_plain_booking_reply(patient_client, patient):
    slot = TimeSlotFactory()

    response = book(patient_client, slot, "k-1")

    booking = Booking.objects.get()
    assert response.json() == booked_reply(slot, patient, booking)
    assert response["Content-Type"] == "application/json"


def test_a_kept_refusal_is_replayed_even_after_the_slot_became_bookable(patient_client):
    slot = TimeSlotFactory(is_available=False)

    first = book(patient_client, slot, "k-1")
    TimeSlot.objects.filter(pk=slot.pk).update(is_available=True)
    again = book(patient_client, slot, "k-1")

    assert first.status_code == again.status_code == 400
    assert again.json() == {"message": "Slot is not available"}
    assert again[REPLAYED] == "true"
    assert not Booking.objects.exists()


def test_the_body_is_compared_as_json_so_key_order_and_spacing_do_not_matter(doctor_client):
    url = reverse("doctor-timeslots")
    first = doctor_client.post(
        url,
        f'{{"date": "{tomorrow()}", "start_time": "10:00", "end_time": "10:30"}}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="create-1",
    )
    again = doctor_client.post(
        url,
        f'{{"end_time":"10:30","start_time":"10:00","date":"{tomorrow()}"}}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="create-1",
    )

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert TimeSlot.objects.count() == 1


def test_bulk_create_is_replayed_without_creating_twice(doctor_client):
    body = {"date": str(tomorrow()), "start_time": "09:00", "end_time": "10:00", "duration": 30}

    first = doctor_client.post(reverse("slot-bulk"), body, HTTP_IDEMPOTENCY_KEY="bulk-1")
    again = doctor_client.post(reverse("slot-bulk"), body, HTTP_IDEMPOTENCY_KEY="bulk-1")

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert TimeSlot.objects.count() == 2


def test_cancel_is_replayed_and_does_not_cancel_a_later_booking(patient):
    slot = TimeSlotFactory()
    client = client_for(patient)
    book(client, slot)

    first = steps.cancel(client, slot, HTTP_IDEMPOTENCY_KEY="cancel-1")
    book(client, slot)  # booked again since
    again = steps.cancel(client, slot, HTTP_IDEMPOTENCY_KEY="cancel-1")

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert Booking.objects.filter(slot=slot, status="booked").count() == 1


def test_without_the_header_nothing_is_kept(patient_client):
    book(patient_client, TimeSlotFactory())

    assert not IdempotencyKey.objects.exists()


# --- reuse with another request ------------------------------------------------------

REUSED = {"message": "Idempotency-Key reused with a different request"}


def test_the_key_with_another_path_is_a_422(patient_client):
    first, second = TimeSlotFactory(), TimeSlotFactory()
    book(patient_client, first, "k-1")

    response = book(patient_client, second, "k-1")

    assert (response.status_code, response.json()) == (422, REUSED)
    assert not Booking.objects.filter(slot=second).exists()


def test_the_key_with_another_body_is_a_422(doctor_client):
    doctor_client.post(reverse("doctor-timeslots"), slot_body(), HTTP_IDEMPOTENCY_KEY="c-1")

    response = doctor_client.post(
        reverse("doctor-timeslots"),
        slot_body(start_time="11:00", end_time="11:30"),
        HTTP_IDEMPOTENCY_KEY="c-1",
    )

    assert (response.status_code, response.json()) == (422, REUSED)
    assert TimeSlot.objects.count() == 1


def test_a_422_is_not_kept_so_the_first_request_still_replays(patient_client):
    first, second = TimeSlotFactory(), TimeSlotFactory()
    original = book(patient_client, first, "k-1")
    book(patient_client, second, "k-1")

    again = book(patient_client, first, "k-1")

    assert again.content == original.content


# --- scope -----------------------------------------------------------------------------


def test_a_key_belongs_to_its_caller(patient_client):
    slot, other_slot = TimeSlotFactory(), TimeSlotFactory()
    book(patient_client, slot, "shared")

    response = book(client_for(PatientFactory()), other_slot, "shared")

    assert response.status_code == 200
    assert REPLAYED not in response
    assert Booking.objects.count() == 2


# --- invalid keys ----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "tab\there", "caf\u00e9"])
def test_an_invalid_key_is_refused_and_nothing_is_written(patient_client, key):
    slot = TimeSlotFactory()

    response = book(patient_client, slot, key)

    assert (response.status_code, response.json()) == (400, {"message": "Invalid Idempotency-Key"})
    assert not Booking.objects.exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["a", "x" * 255, "!~0aZ-_.:/"])
def test_keys_of_1_to_255_visible_characters_are_accepted(patient_client, key):
    response = book(patient_client, TimeSlotFactory(), key)

    assert response.status_code == 200


def test_the_key_is_checked_after_authentication(api_client):
    response = book(api_client, TimeSlotFactory(), "with space")

    assert response.status_code == 401


def test_the_key_is_checked_after_the_role(doctor_client):
    response = book(doctor_client, TimeSlotFactory(), "with space")

    assert response.status_code == 403


def test_an_auth_refusal_is_not_kept(api_client, patient):
    slot = TimeSlotFactory()
    book(api_client, slot, "k-1")

    response = book(client_for(patient), slot, "k-1")

    assert response.status_code == 200
    assert REPLAYED not in response


def test_a_throttled_request_is_not_kept(patient_client, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "booking", "1/min")
    book(patient_client, TimeSlotFactory())
    slot = TimeSlotFactory()

    throttled = book(patient_client, slot, "k-1")
    cache.clear()  # the window has passed
    again = book(patient_client, slot, "k-1")

    assert (throttled.status_code, again.status_code) == (429, 200)
    assert REPLAYED not in again
    assert Booking.objects.filter(slot=slot).exists()


# --- in flight, lapsed and expired keys ----------------------------------------------


def fingerprint_of_unbooked(slot):
    """The fingerprint of booking `slot`, taken without making the request."""
    return fingerprint(Request(APIRequestFactory().post(reverse("slot-book", args=[slot.id]))))


def claim(user, key, *, locked_ago, created_ago=0, fingerprint="f" * 64):
    now = timezone.now()
    return IdempotencyKey.objects.create(
        user=user,
        key=key,
        fingerprint=fingerprint,
        created_at=now - timedelta(seconds=created_ago),
        locked_at=now - timedelta(seconds=locked_ago),
    )


def test_a_key_whose_first_request_is_running_is_a_409(patient, patient_client):
    slot = TimeSlotFactory()
    claim(patient, "k-1", locked_ago=1, fingerprint=fingerprint_of_unbooked(slot))

    response = book(patient_client, slot, "k-1")

    assert (response.status_code, response.json()) == (
        409,
        {"message": "A request with this Idempotency-Key is in progress"},
    )
    assert not Booking.objects.exists()


def test_a_key_held_by_a_request_that_died_is_free_after_a_minute(patient, patient_client):
    slot = TimeSlotFactory()
    claim(patient, "k-1", locked_ago=61, fingerprint=fingerprint_of_unbooked(slot))

    response = book(patient_client, slot, "k-1")

    assert response.status_code == 200
    assert Booking.objects.filter(slot=slot).count() == 1


def test_a_key_older_than_the_ttl_starts_afresh(patient, patient_client, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    first = TimeSlotFactory()
    book(patient_client, first, "k-1")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(seconds=3601))
    second = TimeSlotFactory()

    response = book(patient_client, second, "k-1")

    assert response.status_code == 200
    assert REPLAYED not in response
    assert Booking.objects.filter(slot=second).exists()


# --- failures keep nothing -------------------------------------------------------------


def test_a_server_error_keeps_neither_the_write_nor_the_key(patient_client, monkeypatch):
    slot = TimeSlotFactory()
    real_book = slot_services.slot_book

    def book_then_crash(**kwargs):
        real_book(**kwargs)
        raise RuntimeError("crash after the write")

    monkeypatch.setattr(slot_services, "slot_book", book_then_crash)
    with pytest.raises(RuntimeError):
        book(patient_client, slot, "k-1")

    assert not Booking.objects.exists()
    assert not IdempotencyKey.objects.exists()
    monkeypatch.undo()
    assert book(patient_client, slot, "k-1").status_code == 200


def test_a_write_never_commits_without_its_stored_reply(patient_client, monkeypatch):
    slot = TimeSlotFactory()

    def store_fails(record, **reply):
        raise RuntimeError("the reply could not be stored")

    monkeypatch.setattr(key_services, "key_answer", store_fails)
    with pytest.raises(RuntimeError):
        book(patient_client, slot, "k-1")

    slot.refresh_from_db()
    assert not Booking.objects.exists()
    assert (slot.is_booked, slot.is_available) == (False, True)


# --- races (PostgreSQL) ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_retries_with_one_key_book_once():
    slot = TimeSlotFactory(doctor=DoctorFactory())
    patient = PatientFactory()
    clients = [client_for(patient) for _ in range(10)]

    responses = run_together([lambda c=c: book(c, slot, "retry-me") for c in clients])

    booking = Booking.objects.get(slot=slot)
    wins = [r for r in responses if r.status_code == 200]
    assert wins
    assert all(r.json()["booking_id"] == booking.id for r in wins)
    assert all(
        r.json() == {"message": "A request with this Idempotency-Key is in progress"}
        for r in responses
        if r.status_code != 200
    )
    assert {r.status_code for r in responses} <= {200, 409}
    assert [r.content for r in wins] == [wins[0].content] * len(wins)


# --- the worker purges expired keys ------------------------------------------------------


def keys_aged(user, ages, *, answered=True):
    """One key per age in seconds, answered (or still claimed at its creation)."""
    now = timezone.now()
    for n, age in enumerate(ages):
        at = now - timedelta(seconds=age)
        IdempotencyKey.objects.create(
            user=user,
            key=f"k-{age}-{n}",
            fingerprint="f" * 64,
            created_at=at,
            locked_at=None if answered else at,
            status_code=200 if answered else None,
            body=b"{}" if answered else None,
        )


def test_the_purge_deletes_expired_keys_only(patient, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    keys_aged(patient, [3601, 7200, 86400 * 30])  # expired
    keys_aged(patient, [0, 60, 3599])  # kept
    keys_aged(patient, [5000], answered=False)  # a claim whose request died long ago

    assert key_services.keys_purge() == 4
    assert sorted(IdempotencyKey.objects.values_list("key", flat=True)) == [
        "k-0-0",
        "k-3599-2",
        "k-60-1",
    ]
    assert key_services.keys_purge() == 0  # harmless twice


def test_the_purge_never_deletes_a_claim_a_live_request_holds(patient, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    # Created long ago, then taken over from a dead request a moment ago: in flight.
    claim(patient, "k-1", locked_ago=1, created_ago=7200)

    assert key_services.keys_purge() == 0
    assert IdempotencyKey.objects.filter(key="k-1").exists()


def test_the_purge_deletes_in_bounded_batches(patient, settings, django_assert_num_queries):
    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    keys_aged(patient, [7200 + n for n in range(7)])

    # Two batches of three and a short one of one: a select and a delete each.
    with django_assert_num_queries(6):
        assert key_services.keys_purge(batch=3) == 7
    keys_aged(patient, [7200 + n for n in range(7)])
    assert key_services.keys_purge(batch=3, batches=2) == 6  # the rest: next run
    assert IdempotencyKey.objects.count() == 1


def test_the_purge_is_a_periodic_task_of_the_worker(patient, settings):
    from config.celery import app
    from idempotency.tasks import purge_expired_keys

    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    keys_aged(patient, [7200, 0])
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "idempotency.tasks.purge_expired_keys" in schedule
    assert "idempotency.tasks.purge_expired_keys" in app.tasks
    assert purge_expired_keys.apply().get() == 1
    assert IdempotencyKey.objects.count() == 1
