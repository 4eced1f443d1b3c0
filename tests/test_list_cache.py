"""The public lists read once and served many times (listcache/services.py): the
same bytes as without the cache, never a slot that a booking took before the read."""

import json
import os
import time as clock
import uuid
from datetime import datetime, time, timedelta

import pytest
from django.contrib import admin
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from accounts import services as accounts_services
from accounts.models import UserProfile
from doctor import pagination, services
from doctor.clock import clinic_datetime
from doctor.models import Booking, Hold, Review, TimeSlot, WaitlistEntry
from doctor.views.lists import available_list_expiry
from listcache import services as listcache
from tests.conftest import PASSWORD, client_for
from tests.factories import (
    BookingFactory,
    DoctorFactory,
    PatientFactory,
    TimeSlotFactory,
    UserFactory,
    tomorrow,
)

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


def test_a_hit_costs_one_query_and_a_miss_the_list_plus_three(
    api_client, django_assert_num_queries
):
    TimeSlotFactory()
    # The version row, the list, the soonest lapse of a live hold, the doctors' notice.
    with django_assert_num_queries(4):
        assert len(api_client.get(AVAILABLE_URL).json()) == 1
    with django_assert_num_queries(1):  # the version row
        assert len(api_client.get(AVAILABLE_URL).json()) == 1
    for n in range(49):
        TimeSlotFactory(date=tomorrow() + timedelta(days=n + 1))
    listcache.bump_after_commit()
    with django_assert_num_queries(4):
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
#
# Each change sets up its state, then returns the act: the test warms the list,
# acts, and checks that the list did change (so the row is not vacuous) and that
# the next read shows it. Every change reaches the lists through the slot flows'
# unit of work (doctor/unit.py) or accounts' bump: remove either and rows go red.


def _slot_body(start):
    end = (datetime.combine(tomorrow(), start) + timedelta(minutes=30)).time()
    day = tomorrow().isoformat()
    return {"date": day, "start_time": f"{start:%H:%M}", "end_time": f"{end:%H:%M}"}


def _ok(response, status=200):
    assert response.status_code == status, response.content


def _create(doctor, patient, slot):
    url = reverse("doctor-timeslots")
    return lambda: _ok(client_for(doctor).post(url, _slot_body(time(15)), format="json"), 201)


def _bulk(doctor, patient, slot):
    body = {
        "date": tomorrow().isoformat(),
        "date_to": tomorrow().isoformat(),
        "weekdays": list(range(7)),
        "start_time": "16:00",
        "end_time": "17:00",
        "duration": 30,
    }
    return lambda: _ok(client_for(doctor).post(reverse("slot-bulk"), body, format="json"), 201)


def _toggle(doctor, patient, slot):
    return lambda: _ok(client_for(doctor).patch(reverse("slot-toggle", args=[slot.id])))


def _delete(doctor, patient, slot):
    return lambda: _ok(client_for(doctor).delete(reverse("slot-delete", args=[slot.id])))


def _book(doctor, patient, slot):
    return lambda: _ok(client_for(patient).post(reverse("slot-book", args=[slot.id])))


def _cancel(doctor, patient, slot):
    services.slot_book(slot_id=slot.id, patient=patient)
    return lambda: _ok(client_for(patient).post(reverse("slot-cancel", args=[slot.id])))


def _hold(doctor, patient, slot):
    return lambda: _ok(client_for(patient).post(reverse("slot-hold", args=[slot.id])), 201)


def _release(doctor, patient, slot):
    hold, _ = services.hold_place(slot_id=slot.id, patient=patient)
    return lambda: _ok(client_for(patient).delete(reverse("hold-release", args=[hold.id])))


def _reschedule(doctor, patient, slot):
    other = TimeSlotFactory(doctor=doctor, start_time=time(13))
    booking = services.slot_book(slot_id=slot.id, patient=patient)
    url = reverse("booking-reschedule", args=[booking.id])
    return lambda: _ok(client_for(patient).post(url, {"slot_id": other.id}, format="json"))


def _admin_edit(doctor, patient, slot):
    def act():
        services.slot_update(
            slot_id=slot.id,
            doctor=doctor,
            date=slot.date,
            start_time=time(11),
            end_time=time(11, 30),
            is_available=True,
        )

    return act


def _profile(doctor, patient, slot):
    url = reverse("profile-update")
    body = {"full_name": "Dr Renamed"}
    return lambda: _ok(client_for(doctor).patch(url, body, format="json"))


def _deactivate(doctor, patient, slot):
    return lambda: accounts_services.user_update(user=doctor, is_active=False)


def _signup(doctor, patient, slot):
    body = {
        "email": "new-doctor@example.com",
        "password": PASSWORD,
        "full_name": "Dr New",
        "user_type": "doctor",
    }
    return lambda: _ok(APIClient().post(reverse("signup"), body, format="json"), 201)


def _visited(doctor, patient, status):
    """A booking of `patient` on a slot of `doctor` that started yesterday."""
    past = TimeSlotFactory(doctor=doctor, date=tomorrow() - timedelta(days=2))
    return BookingFactory(slot=past, patient=patient, status=status)


def _visit_outcome(doctor, patient, slot):
    booking = _visited(doctor, patient, Booking.Status.BOOKED)
    url = reverse("booking-complete", args=[booking.id])
    return lambda: _ok(client_for(doctor).post(url))  # the card's `patients`


def _review(doctor, patient, slot):
    booking = _visited(doctor, patient, Booking.Status.COMPLETED)
    url = reverse("booking-review", args=[booking.id])
    return lambda: _ok(client_for(patient).post(url, {"rating": 4}, format="json"), 201)


def _offered(doctor, patient, slot):
    """`patient` waits for `doctor`; another patient's cancellation offers them `slot`."""
    services.waitlist_join(patient=patient, doctor=doctor, date_from=slot.date, date_to=slot.date)
    services.slot_book(slot_id=slot.id, patient=PatientFactory())
    services.booking_cancel(slot_id=slot.id, booking_id=None)
    entry = WaitlistEntry.objects.get(patient=patient)
    assert entry.status == WaitlistEntry.Status.OFFERED
    return entry


def _waitlist_leave(doctor, patient, slot):
    entry = _offered(doctor, patient, slot)
    url = reverse("waitlist-leave", args=[entry.id])
    return lambda: _ok(client_for(patient).delete(url))  # the offer's slot comes back


def _waitlist_decline(doctor, patient, slot):
    entry = _offered(doctor, patient, slot)
    url = reverse("hold-release", args=[entry.offer_id])
    return lambda: _ok(client_for(patient).delete(url))


def _lapsed_hold_passed_on(doctor, patient, slot):
    services.hold_place(slot_id=slot.id, patient=PatientFactory())
    services.waitlist_join(patient=patient, doctor=doctor, date_from=slot.date, date_to=slot.date)
    Hold.objects.update(expires_at=timezone.now() - timedelta(seconds=1))  # the slot is back
    return lambda: services.lapsed_holds_pass_on()  # and goes to the waiting patient


def _staff_client():
    staff = Client()
    staff.force_login(UserFactory(user_type="admin", is_staff=True, is_superuser=True))
    return staff


def _admin_cancel(doctor, patient, slot):
    booking = services.slot_book(slot_id=slot.id, patient=patient)
    body = {"action": "cancel_bookings", "_selected_action": [booking.pk]}
    changelist = reverse("admin:doctor_booking_changelist")
    return lambda: _ok(_staff_client().post(changelist, body), 302)


def _admin_delete_slot(doctor, patient, slot):
    url = reverse("admin:doctor_timeslot_delete", args=[slot.pk])
    return lambda: _ok(_staff_client().post(url, {"post": "yes"}), 302)


def _admin_user_edit(doctor, patient, slot):
    def act():
        doctor.full_name = "Dr Renamed By Staff"
        admin.site._registry[UserProfile].save_model(None, doctor, None, True)

    return act


def _admin_review_delete(doctor, patient, slot):
    booking = _visited(doctor, patient, Booking.Status.COMPLETED)
    review = services.review_create(booking_id=booking.id, patient=patient, rating=5)
    return lambda: admin.site._registry[Review].delete_model(None, review)


BOTH = (AVAILABLE_URL, DOCTORS_URL)
CHANGES = {
    _create: [AVAILABLE_URL],
    _bulk: [AVAILABLE_URL],
    _toggle: [AVAILABLE_URL],
    _delete: [AVAILABLE_URL],
    _book: [AVAILABLE_URL],
    _cancel: [AVAILABLE_URL],
    _hold: [AVAILABLE_URL],
    _release: [AVAILABLE_URL],
    _reschedule: [AVAILABLE_URL],
    _admin_edit: [AVAILABLE_URL],
    _profile: BOTH,
    _deactivate: BOTH,
    _signup: [DOCTORS_URL],
    _visit_outcome: [DOCTORS_URL],
    _review: [DOCTORS_URL],
    _waitlist_leave: [AVAILABLE_URL],
    _waitlist_decline: [AVAILABLE_URL],
    _lapsed_hold_passed_on: [AVAILABLE_URL],
    _admin_cancel: [AVAILABLE_URL],
    _admin_delete_slot: [AVAILABLE_URL],
    _admin_user_edit: BOTH,
    _admin_review_delete: [DOCTORS_URL],
}
CASES = [(change, url) for change, urls in CHANGES.items() for url in urls]


@pytest.mark.parametrize(
    "change, url",
    CASES,
    ids=[
        f"{c.__name__.strip('_')}-{'slots' if u == AVAILABLE_URL else 'doctors'}" for c, u in CASES
    ],
)
def test_every_change_is_seen_by_the_next_read(change, url, settings):
    doctor, patient = DoctorFactory(), PatientFactory()
    slot = TimeSlotFactory(doctor=doctor, start_time=time(12))
    act = change(doctor, patient, slot)
    before = APIClient().get(url).content  # read, and kept

    act()

    after = APIClient().get(url).content
    assert after != before, "the change must show in this list"
    assert after == fresh(url, settings)


def test_a_lapsing_hold_brings_its_slot_back_with_no_write(api_client, patient):
    slot = TimeSlotFactory()
    services.hold_place(slot_id=slot.id, patient=patient)
    Hold.objects.update(expires_at=timezone.now() + timedelta(seconds=0.5))
    assert slot_ids(api_client.get(AVAILABLE_URL)) == []

    clock.sleep(0.6)

    assert slot_ids(api_client.get(AVAILABLE_URL)) == [slot.id]


def test_the_entry_expires_when_its_first_slot_comes_inside_its_doctors_notice():
    slot = TimeSlotFactory(doctor=DoctorFactory(min_booking_notice_minutes=60))
    rows = json.loads(APIClient().get(AVAILABLE_URL).content)

    expiry = available_list_expiry(rows)

    start = clinic_datetime(slot.date, slot.start_time)
    assert expiry == (start - timedelta(minutes=60)).timestamp()


def test_a_later_slot_with_a_longer_notice_expires_the_entry_first():
    soon = TimeSlotFactory(start_time=time(10))
    later = TimeSlotFactory(
        start_time=time(11), doctor=DoctorFactory(min_booking_notice_minutes=180)
    )
    rows = json.loads(APIClient().get(AVAILABLE_URL).content)
    assert [row["id"] for row in rows] == [soon.id, later.id]

    expiry = available_list_expiry(rows)

    assert expiry == (clinic_datetime(later.date, time(8))).timestamp()


def test_a_cached_list_never_shows_a_slot_inside_its_doctors_notice(api_client, frozen):
    doctor = DoctorFactory(min_booking_notice_minutes=60)
    slot = TimeSlotFactory(doctor=doctor)
    start = clinic_datetime(slot.date, slot.start_time)
    frozen(start - timedelta(minutes=61))
    assert slot_ids(api_client.get(AVAILABLE_URL)) == [slot.id]

    frozen(start - timedelta(minutes=59))

    assert slot_ids(api_client.get(AVAILABLE_URL)) == []


# --- one entry per list, whatever the Host ----------------------------------------------


def test_every_host_reads_the_one_entry(settings, django_assert_num_queries):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "localhost:8000"]
    TimeSlotFactory()
    APIClient().get(AVAILABLE_URL, HTTP_HOST="localhost")

    for host in ("127.0.0.1", "localhost:8000", "LOCALHOST"):
        with django_assert_num_queries(1):  # the version row: a hit
            assert len(APIClient().get(AVAILABLE_URL, HTTP_HOST=host).json()) == 1


def test_with_a_site_url_a_truncated_list_is_kept_once_and_links_to_the_site(
    settings, django_assert_num_queries
):
    settings.MAX_UNPAGED_SLOTS, settings.SITE_URL = 1, "https://api.clinic.example"
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    TimeSlotFactory.create_batch(2, start_time=time(10))  # two doctors, one each

    first = APIClient().get(AVAILABLE_URL, HTTP_HOST="localhost")
    with django_assert_num_queries(1):
        second = APIClient().get(AVAILABLE_URL, HTTP_HOST="127.0.0.1")

    for response in (first, second):
        assert response["X-Truncated"] == "true"
        assert response["Link"].startswith(
            "<https://api.clinic.example/api/doctor/user/timeslots/?"
        )


def test_without_a_site_url_a_truncated_list_names_its_host_and_is_not_kept(settings):
    settings.MAX_UNPAGED_SLOTS, settings.SITE_URL = 1, ""
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    TimeSlotFactory.create_batch(2)

    APIClient().get(AVAILABLE_URL, HTTP_HOST="localhost")
    response = APIClient().get(AVAILABLE_URL, HTTP_HOST="127.0.0.1")

    assert response["Link"].startswith("<http://127.0.0.1/api/doctor/user/timeslots/?")


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
