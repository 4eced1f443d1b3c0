"""The public lists read once and served many times (doctor/listcache.py): the
same bytes as without the cache, never a slot that a booking took before the read."""

import json
import os
import time as clock
import uuid
from datetime import datetime, time, timedelta

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from accounts import services as accounts_services
from doctor import listcache, pagination, services
from doctor.models import Booking, Hold, TimeSlot
from tests.conftest import PASSWORD, client_for
from tests.factories import BookingFactory, DoctorFactory, PatientFactory, TimeSlotFactory, tomorrow

pytestmark = pytest.mark.django_db

AVAILABLE_URL = reverse("available-slots")
DOCTORS_URL = reverse("doctor-list")
REDIS_URL = os.environ.get("TEST_LIST_CACHE_REDIS_URL", "redis://127.0.0.1:6379/7")


@pytest.fixture(autouse=True)
def list_cache_on(settings):
    settings.LIST_CACHE = True


def fresh(url, settings):
    """What the database says now: the same request with the cache off."""
    settings.LIST_CACHE = False
    try:
        return APIClient().get(url).content
    finally:
        settings.LIST_CACHE = True


def slot_ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()]


# --- the same bytes, fewer queries -------------------------------------------------


@pytest.mark.parametrize("url", [AVAILABLE_URL, DOCTORS_URL])
def test_a_cached_list_is_the_same_bytes_and_headers_as_the_database_gives(url, settings):
    TimeSlotFactory.create_batch(3, doctor=DoctorFactory(full_name='Dr Zoë "Quote"'))
    uncached = APIClient().get(url)
    settings.LIST_CACHE = False
    expected = APIClient().get(url)
    settings.LIST_CACHE = True
    hit = APIClient().get(url)

    for response in (uncached, hit):
        assert response.status_code == 200
        assert response.content == expected.content
        assert response["Content-Type"] == expected["Content-Type"] == "application/json"


def test_a_hit_costs_one_query_and_a_miss_the_list_plus_two(api_client, django_assert_num_queries):
    TimeSlotFactory()
    # The version row, the list, the soonest lapse of a live hold.
    with django_assert_num_queries(3):
        assert len(api_client.get(AVAILABLE_URL).json()) == 1
    with django_assert_num_queries(1):  # the version row
        assert len(api_client.get(AVAILABLE_URL).json()) == 1
    for n in range(49):
        TimeSlotFactory(date=tomorrow() + timedelta(days=n + 1))
    listcache.bump_after_commit()
    with django_assert_num_queries(3):
        assert len(api_client.get(AVAILABLE_URL).json()) == 50
    with django_assert_num_queries(1):
        assert len(api_client.get(AVAILABLE_URL).json()) == 50


def test_the_doctor_list_hit_costs_one_query_and_a_miss_two(api_client, django_assert_num_queries):
    DoctorFactory.create_batch(5)
    with django_assert_num_queries(2):  # the version row, the doctors
        assert len(api_client.get(DOCTORS_URL).json()) == 5
    with django_assert_num_queries(1):
        assert len(api_client.get(DOCTORS_URL).json()) == 5


@pytest.mark.parametrize(
    ("query", "empty"),
    [
        ({"limit": 2}, {"count": 0, "next": None, "previous": None, "results": []}),
        ({"page_size": 2}, {"next": None, "previous": None, "results": []}),
        ({"doctor": 1}, []),
    ],
)
def test_filtered_and_paged_lists_are_read_from_the_database(api_client, query, empty):
    TimeSlotFactory()
    api_client.get(AVAILABLE_URL, query)
    TimeSlot.objects.update(is_available=False)  # behind the services' back: no bump

    assert api_client.get(AVAILABLE_URL, query).json() == empty


# --- the order: once a booking has answered, no read shows its slot ---------------


def test_after_a_booking_answers_the_next_read_never_shows_the_slot(api_client, patient):
    slot = TimeSlotFactory()
    assert slot_ids(api_client.get(AVAILABLE_URL)) == [slot.id]  # cached now

    booked = client_for(patient).post(reverse("slot-book", args=[slot.id]))
    assert booked.status_code == 200

    assert slot_ids(api_client.get(AVAILABLE_URL)) == []


def test_a_reader_that_queried_before_the_booking_cannot_serve_its_stale_list(
    api_client, patient, monkeypatch
):
    slot = TimeSlotFactory()
    booked = []

    class BookingLandsWhileRendering(JSONRenderer):
        # The reader has queried (the slot is free in what it read); the booking
        # commits and answers before the reader is done and stores its bytes.
        def render(self, data, *args, **kwargs):
            if not booked:
                booked.append(client_for(patient).post(reverse("slot-book", args=[slot.id])))
            return super().render(data, *args, **kwargs)

    monkeypatch.setattr(pagination, "JSONRenderer", BookingLandsWhileRendering)
    assert slot_ids(api_client.get(AVAILABLE_URL)) == [slot.id]  # it started before the booking
    assert booked[0].status_code == 200

    assert slot_ids(api_client.get(AVAILABLE_URL)) == []


# --- every kind of change invalidates -----------------------------------------------


def _slot_body(start):
    end = (datetime.combine(tomorrow(), start) + timedelta(minutes=30)).time()
    day = tomorrow().isoformat()
    return {"date": day, "start_time": f"{start:%H:%M}", "end_time": f"{end:%H:%M}"}


def _create(doctor, patient, slot):
    url = reverse("doctor-timeslots")
    assert client_for(doctor).post(url, _slot_body(time(15)), format="json").status_code == 201


def _bulk(doctor, patient, slot):
    body = {
        "date": tomorrow().isoformat(),
        "date_to": tomorrow().isoformat(),
        "weekdays": list(range(7)),
        "start_time": "16:00",
        "end_time": "17:00",
        "duration": 30,
    }
    assert client_for(doctor).post(reverse("slot-bulk"), body, format="json").status_code == 201


def _toggle(doctor, patient, slot):
    assert client_for(doctor).patch(reverse("slot-toggle", args=[slot.id])).status_code == 200


def _delete(doctor, patient, slot):
    assert client_for(doctor).delete(reverse("slot-delete", args=[slot.id])).status_code == 200


def _book(doctor, patient, slot):
    assert client_for(patient).post(reverse("slot-book", args=[slot.id])).status_code == 200


def _cancel(doctor, patient, slot):
    services.slot_book(slot_id=slot.id, patient=patient)
    listcache_warm()
    assert client_for(patient).post(reverse("slot-cancel", args=[slot.id])).status_code == 200


def _hold(doctor, patient, slot):
    assert client_for(patient).post(reverse("slot-hold", args=[slot.id])).status_code == 201


def _release(doctor, patient, slot):
    hold, _ = services.hold_place(slot_id=slot.id, patient=patient)
    listcache_warm()
    assert client_for(patient).delete(reverse("hold-release", args=[hold.id])).status_code == 200


def _reschedule(doctor, patient, slot):
    other = TimeSlotFactory(doctor=doctor, start_time=time(13))
    booking = services.slot_book(slot_id=slot.id, patient=patient)
    listcache_warm()
    url = reverse("booking-reschedule", args=[booking.id])
    assert client_for(patient).post(url, {"slot_id": other.id}, format="json").status_code == 200


def _admin_edit(doctor, patient, slot):
    services.slot_update(
        slot_id=slot.id,
        doctor=doctor,
        date=slot.date,
        start_time=time(11),
        end_time=time(11, 30),
        is_available=True,
    )


def _profile(doctor, patient, slot):
    url = reverse("profile-update")
    response = client_for(doctor).patch(url, {"full_name": "Dr Renamed"}, format="json")
    assert response.status_code == 200


def _deactivate(doctor, patient, slot):
    accounts_services.user_update(user=doctor, is_active=False)


def _signup(doctor, patient, slot):
    body = {
        "email": "new-doctor@example.com",
        "password": PASSWORD,
        "full_name": "Dr New",
        "user_type": "doctor",
    }
    assert APIClient().post(reverse("signup"), body, format="json").status_code == 201


def listcache_warm():
    for url in (AVAILABLE_URL, DOCTORS_URL):
        APIClient().get(url)


CHANGES = [
    _create,
    _bulk,
    _toggle,
    _delete,
    _book,
    _cancel,
    _hold,
    _release,
    _reschedule,
    _admin_edit,
    _profile,
    _deactivate,
    _signup,
]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__.strip("_") for c in CHANGES])
@pytest.mark.parametrize("url", [AVAILABLE_URL, DOCTORS_URL])
def test_every_change_is_seen_by_the_next_read(change, url, settings):
    doctor, patient = DoctorFactory(), PatientFactory()
    slot = TimeSlotFactory(doctor=doctor, start_time=time(12))
    listcache_warm()

    change(doctor, patient, slot)

    assert APIClient().get(url).content == fresh(url, settings)


def test_a_lapsing_hold_brings_its_slot_back_with_no_write(api_client, patient):
    slot = TimeSlotFactory()
    services.hold_place(slot_id=slot.id, patient=patient)
    Hold.objects.update(expires_at=timezone.now() + timedelta(seconds=0.5))
    assert slot_ids(api_client.get(AVAILABLE_URL)) == []

    clock.sleep(0.6)

    assert slot_ids(api_client.get(AVAILABLE_URL)) == [slot.id]


def test_the_soonest_slot_starting_expires_the_entry():
    slot = TimeSlotFactory()
    rows = json.loads(APIClient().get(AVAILABLE_URL).content)

    expiry = listcache.available_list_expiry(rows)

    assert expiry == listcache.clinic_datetime(slot.date, slot.start_time).timestamp()


# --- Redis: shared version, and a Redis that fails --------------------------------------


@pytest.fixture
def redis_lists(settings):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        if os.environ.get("REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"needs Redis at {REDIS_URL}")
    prefix = f"test-lists-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
            "OPTIONS": settings.REDIS_OPTIONS,
        }
    }
    yield caches["default"]
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)  # only this test's keys: never FLUSHDB


def test_with_redis_the_version_is_a_shared_counter_and_a_hit_costs_no_query(
    redis_lists, api_client, patient, django_assert_num_queries
):
    slot = TimeSlotFactory()
    assert slot_ids(api_client.get(AVAILABLE_URL)) == [slot.id]
    before = redis_lists.get(listcache.VERSION_KEY)
    with django_assert_num_queries(0):
        assert slot_ids(api_client.get(AVAILABLE_URL)) == [slot.id]

    assert client_for(patient).post(reverse("slot-book", args=[slot.id])).status_code == 200

    assert redis_lists.get(listcache.VERSION_KEY) > before
    assert slot_ids(api_client.get(AVAILABLE_URL)) == []


def test_with_redis_the_version_moves_in_the_transaction_and_again_after_commit(
    redis_lists, patient, django_capture_on_commit_callbacks
):
    slot = TimeSlotFactory()
    before = listcache.current_version()

    with django_capture_on_commit_callbacks(execute=True):
        services.slot_book(slot_id=slot.id, patient=patient)
        # Inside: readers of the writer's own transaction see the change.
        assert redis_lists.get(listcache.VERSION_KEY) == before + 1

    # After commit: a reader that read the first bump before the commit cannot
    # have stored pre-commit bytes under the version readers now ask for.
    assert redis_lists.get(listcache.VERSION_KEY) == before + 2


def test_an_unreachable_redis_serves_the_lists_from_the_database(settings, api_client, patient):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/7",  # the discard port: nothing listens
            "OPTIONS": settings.REDIS_OPTIONS,
        }
    }
    slot = TimeSlotFactory()
    assert slot_ids(api_client.get(AVAILABLE_URL)) == [slot.id]
    assert len(api_client.get(DOCTORS_URL).json()) == 1

    assert client_for(patient).post(reverse("slot-book", args=[slot.id])).status_code == 200

    assert slot_ids(api_client.get(AVAILABLE_URL)) == []
    assert Booking.objects.filter(slot=slot).count() == 1


def test_a_booking_factory_row_is_no_service_change(api_client):
    """Writes outside the services are not seen until a bump: why tests that
    write with factories run with the cache off (tests/settings.py)."""
    slot = TimeSlotFactory()
    assert slot_ids(api_client.get(AVAILABLE_URL)) == [slot.id]
    BookingFactory(slot=slot)
    TimeSlot.objects.filter(pk=slot.pk).update(is_booked=True, is_available=False)

    assert slot_ids(api_client.get(AVAILABLE_URL)) == [slot.id]
    listcache.bump_after_commit()
    assert slot_ids(api_client.get(AVAILABLE_URL)) == []
