"""Weekly schedules and date overrides (contract Part 5)."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEntry
from doctor.models import Booking, Hold, TimeSlot, WaitlistEntry
from doctor.tasks import pass_on_lapsed_holds
from schedules.models import Override, Schedule
from schedules.services import roll
from schedules.tasks import roll_horizons, sweep_unfit_slots
from tests.conftest import client_for, on_postgres, run_together
from tests.factories import (
    BookingFactory,
    HoldFactory,
    PatientFactory,
    TimeSlotFactory,
    WaitlistEntryFactory,
)
from tests.steps import available_ids, book, cancel, hold, release

pytestmark = pytest.mark.django_db

# Monday 10 June 2030, 06:00 at the clinic (UTC): the horizon starts today.
MONDAY = date(2030, 6, 10)
SCHEDULE_URL = reverse("schedule")
OVERRIDES_URL = reverse("schedule-overrides")
GONE = {"message": "Slot not found"}


@pytest.fixture(autouse=True)
def clinic(settings, frozen):
    settings.TIME_ZONE = "UTC"
    frozen(datetime(2030, 6, 10, 6, 0, tzinfo=UTC))


def week(*windows, slot_minutes=30, weeks_ahead=1):
    rows = [{"weekday": d, "start_time": s, "end_time": e} for d, s, e in windows]
    return {"slot_minutes": slot_minutes, "weeks_ahead": weeks_ahead, "windows": rows}


def put(client, body):
    return client.put(SCHEDULE_URL, body, format="json")


def override(client, day, *hours):
    windows = [{"start_time": s, "end_time": e} for s, e in hours]
    return client.post(OVERRIDES_URL, {"date": day.isoformat(), "windows": windows}, format="json")


def delete_override(client, day):
    return client.delete(reverse("schedule-override-delete", args=[day.isoformat()]))


def times(doctor, day):
    slots = TimeSlot.objects.current().filter(doctor=doctor, date=day).order_by("start_time")
    return [f"{s.start_time:%H:%M}-{s.end_time:%H:%M}" for s in slots]


def schedule_slot(doctor, day=MONDAY, start=time(9, 0), **fields):
    return TimeSlot.objects.get(doctor=doctor, date=day, start_time=start, **fields)


# --- reading and writing the week --------------------------------------------------------


def test_a_doctor_without_a_schedule_reads_the_default(doctor_client):
    response = doctor_client.get(SCHEDULE_URL)

    assert response.status_code == 200
    assert response.json() == {"slot_minutes": 30, "weeks_ahead": 4, "windows": []}


def test_only_doctors_have_a_schedule(patient_client, api_client):
    assert patient_client.get(SCHEDULE_URL).status_code == 403
    assert api_client.get(SCHEDULE_URL).status_code == 401
    assert patient_client.post(OVERRIDES_URL, {}, format="json").status_code == 403


def test_a_put_makes_slots_inside_the_windows(doctor, doctor_client):
    response = put(doctor_client, week((0, "09:00", "11:00"), (2, "14:00", "15:00")))

    assert response.status_code == 200
    assert response.json() == {
        "slot_minutes": 30,
        "weeks_ahead": 1,
        "windows": [
            {"weekday": 0, "start_time": "09:00:00", "end_time": "11:00:00"},
            {"weekday": 2, "start_time": "14:00:00", "end_time": "15:00:00"},
        ],
        "made": 6,
        "removed": 0,
        "kept": [],
    }
    assert times(doctor, MONDAY) == ["09:00-09:30", "09:30-10:00", "10:00-10:30", "10:30-11:00"]
    assert times(doctor, MONDAY + timedelta(days=2)) == ["14:00-14:30", "14:30-15:00"]
    assert set(TimeSlot.objects.values_list("source", "duration")) == {("schedule", 30)}
    assert doctor_client.get(SCHEDULE_URL).json()["windows"] == response.json()["windows"]


def test_made_slots_say_so_and_are_public(doctor, doctor_client, api_client):
    put(doctor_client, week((1, "09:00", "09:30")))

    (own,) = doctor_client.get(reverse("doctor-timeslots")).json()
    assert own["source"] == "schedule"
    assert available_ids(api_client) == [own["id"]]


def test_the_horizon_is_weeks_ahead_times_seven_days_from_today(doctor, doctor_client):
    put(doctor_client, week((0, "09:00", "09:30"), weeks_ahead=3))

    days = list(TimeSlot.objects.order_by("date").values_list("date", flat=True))
    assert days == [MONDAY + timedelta(weeks=n) for n in range(3)]


def test_no_slot_is_made_before_now(doctor, doctor_client, frozen):
    frozen(datetime(2030, 6, 10, 9, 45, tzinfo=UTC))

    put(doctor_client, week((0, "09:00", "11:00")))

    assert times(doctor, MONDAY) == ["10:00-10:30", "10:30-11:00"]


def test_the_grid_starts_at_the_windows_start_and_never_shifts(doctor, doctor_client):
    put(doctor_client, week((0, "09:10", "10:30"), slot_minutes=40))

    assert times(doctor, MONDAY) == ["09:10-09:50", "09:50-10:30"]


def test_putting_the_same_week_again_changes_nothing(doctor, doctor_client):
    body = week((0, "09:00", "11:00"))
    put(doctor_client, body)
    ids = set(TimeSlot.objects.values_list("id", flat=True))

    again = put(doctor_client, body).json()

    assert (again["made"], again["removed"]) == (0, 0)
    assert set(TimeSlot.objects.values_list("id", flat=True)) == ids


def test_a_change_removes_free_slots_that_no_longer_fit_and_makes_the_missing(
    doctor, doctor_client
):
    put(doctor_client, week((0, "09:00", "10:00")))

    reply = put(doctor_client, week((0, "09:30", "10:30"))).json()

    assert (reply["made"], reply["removed"]) == (1, 1)
    assert times(doctor, MONDAY) == ["09:30-10:00", "10:00-10:30"]


def test_a_shorter_horizon_removes_the_days_beyond_it(doctor, doctor_client):
    put(doctor_client, week((0, "09:00", "09:30"), weeks_ahead=3))

    reply = put(doctor_client, week((0, "09:00", "09:30"), weeks_ahead=1)).json()

    assert (reply["made"], reply["removed"]) == (0, 2)
    assert list(TimeSlot.objects.values_list("date", flat=True)) == [MONDAY]


def test_manual_slots_are_never_touched_and_made_slots_never_overlap_them(doctor, doctor_client):
    manual = TimeSlotFactory(doctor=doctor, date=MONDAY, start_time=time(9, 15), duration=30)

    reply = put(doctor_client, week((0, "09:00", "11:00"))).json()

    assert reply["made"] == 2  # 09:00 and 09:30 overlap 09:15-09:45
    assert times(doctor, MONDAY) == ["09:15-09:45", "10:00-10:30", "10:30-11:00"]
    put(doctor_client, week())
    assert TimeSlot.objects.get().pk == manual.pk


def test_a_slot_the_doctor_deleted_by_hand_comes_back_but_a_disabled_one_stays_off(
    doctor, doctor_client
):
    body = week((0, "09:00", "10:00"))
    put(doctor_client, body)
    doctor_client.delete(reverse("slot-delete", args=[schedule_slot(doctor).pk]))
    off = schedule_slot(doctor, start=time(9, 30))
    doctor_client.patch(reverse("slot-toggle", args=[off.pk]))

    assert put(doctor_client, body).json()["made"] == 1
    off.refresh_from_db()
    assert not off.is_available


# --- booked and held slots stay ------------------------------------------------------------


def test_a_booked_slot_that_no_longer_fits_stays_and_is_named(doctor, doctor_client, patient):
    put(doctor_client, week((0, "09:00", "10:00")))
    booked = schedule_slot(doctor)
    BookingFactory(slot=booked, patient=patient, slot__is_booked=True)
    TimeSlot.objects.filter(pk=booked.pk).update(is_booked=True, is_available=False)

    reply = put(doctor_client, week((0, "14:00", "15:00"))).json()

    assert (reply["removed"], reply["kept"]) == (1, [booked.pk])
    booked.refresh_from_db()
    assert booked.is_booked and booked.unscheduled_at is not None
    assert times(doctor, MONDAY) == ["09:00-09:30", "14:00-14:30", "14:30-15:00"]


def test_cancelling_a_kept_slot_removes_it_instead_of_making_it_public(
    doctor, doctor_client, patient_client, api_client
):
    put(doctor_client, week((0, "09:00", "09:30")))
    slot = schedule_slot(doctor)
    book(patient_client, slot)
    put(doctor_client, week())

    assert cancel(patient_client, slot).status_code == 200

    slot.refresh_from_db()
    assert slot.retired_at is not None  # it has a history: retired, not deleted
    assert available_ids(api_client) == []
    assert Booking.objects.get().status == "cancelled"


def test_a_kept_slot_freed_is_not_offered_to_the_waitlist(doctor, doctor_client, patient_client):
    put(doctor_client, week((0, "09:00", "09:30")))
    slot = schedule_slot(doctor)
    book(patient_client, slot)
    put(doctor_client, week())
    WaitlistEntryFactory(doctor=doctor, date_from=MONDAY, date_to=MONDAY)

    cancel(patient_client, slot)

    assert WaitlistEntry.objects.get().status == "waiting"


def test_releasing_a_hold_on_a_kept_slot_removes_it(doctor, doctor_client, patient_client):
    put(doctor_client, week((0, "09:00", "09:30")))
    slot = schedule_slot(doctor)
    held = hold(patient_client, slot).json()

    reply = put(doctor_client, week()).json()
    assert reply["kept"] == [slot.pk]
    assert release(patient_client, held["hold_id"]).status_code == 200

    assert not TimeSlot.objects.filter(pk=slot.pk).exists()


def test_a_lapsed_hold_on_a_kept_slot_makes_it_gone_at_once(
    doctor, doctor_client, patient_client, frozen
):
    put(doctor_client, week((0, "09:00", "09:30")))
    slot = schedule_slot(doctor)
    hold(patient_client, slot)
    put(doctor_client, week())

    frozen.move(minutes=6)

    assert doctor_client.get(reverse("doctor-timeslots")).json() == []
    assert book(patient_client, slot).json() == GONE
    assert hold(client_for(PatientFactory()), slot).json() == GONE
    assert sweep_unfit_slots() == 1
    assert not TimeSlot.objects.filter(pk=slot.pk).exists()


def test_a_kept_slot_gone_by_a_lapsed_hold_cannot_be_toggled(
    doctor, doctor_client, patient_client, frozen
):
    put(doctor_client, week((0, "09:00", "09:30")))
    slot = schedule_slot(doctor)
    hold(patient_client, slot)
    put(doctor_client, week())
    frozen.move(minutes=6)

    response = doctor_client.patch(reverse("slot-toggle", args=[slot.pk]))

    assert (response.status_code, response.json()) == (404, GONE)


def test_the_lapsed_hold_pass_on_removes_a_kept_slot_too(doctor, doctor_client, patient, frozen):
    put(doctor_client, week((0, "09:00", "09:30")))
    slot = schedule_slot(doctor)
    HoldFactory(slot=slot, patient=patient)
    put(doctor_client, week())
    frozen.move(minutes=6)

    pass_on_lapsed_holds()

    assert not TimeSlot.objects.filter(pk=slot.pk).exists()


def trail():
    return [(e.action, e.actor["id"] if e.actor else None) for e in AuditEntry.objects.all()]


def test_each_slot_a_schedule_makes_or_removes_is_audited_with_its_doctor(doctor, doctor_client):
    put(doctor_client, week((0, "09:00", "10:00")))
    put(doctor_client, week((0, "09:00", "09:30")))

    assert trail() == [
        ("slot.scheduled", doctor.pk),
        ("slot.scheduled", doctor.pk),
        ("slot.unscheduled", doctor.pk),
    ]
    removed = AuditEntry.objects.last()
    assert removed.changes["start_time"] == ["09:30:00", None]


def test_a_slot_removed_with_a_lapsed_hold_audits_the_lapse_with_no_actor(
    doctor, doctor_client, patient_client, frozen
):
    put(doctor_client, week((0, "09:00", "09:30")))
    slot = schedule_slot(doctor)
    hold(patient_client, slot)
    frozen.move(minutes=6)  # the hold lapsed; nothing ran

    assert put(doctor_client, week()).json()["removed"] == 1

    assert trail()[-2:] == [("hold.lapsed", None), ("slot.unscheduled", doctor.pk)]
    lapsed = AuditEntry.objects.get(action="hold.lapsed")
    assert (lapsed.slot_id, lapsed.changes["status"]) == (slot.pk, ["active", "expired"])


def test_the_holder_may_still_book_a_kept_slot(doctor, doctor_client, patient_client):
    put(doctor_client, week((0, "09:00", "09:30")))
    slot = schedule_slot(doctor)
    hold(patient_client, slot)
    put(doctor_client, week())

    assert book(patient_client, slot).status_code == 200


def test_a_kept_slot_that_fits_again_loses_its_mark(doctor, doctor_client, patient_client):
    put(doctor_client, week((0, "09:00", "09:30")))
    slot = schedule_slot(doctor)
    book(patient_client, slot)
    put(doctor_client, week())

    reply = put(doctor_client, week((0, "09:00", "09:30"))).json()

    slot.refresh_from_db()
    assert (reply["made"], slot.unscheduled_at) == (0, None)


# --- bad input: 400 and nothing changes ---------------------------------------------------------


@pytest.mark.parametrize(
    "body,field",
    [
        (week((0, "09:00", "11:00"), (0, "10:30", "12:00")), "windows"),
        (week((7, "09:00", "11:00")), "windows"),
        (week((-1, "09:00", "11:00")), "windows"),
        (week((0, "11:00", "09:00")), "windows"),
        (week((0, "11:00", "11:00")), "windows"),
        (week((0, "9 am", "11:00")), "windows"),
        (week(slot_minutes=4), "slot_minutes"),
        (week(slot_minutes=241), "slot_minutes"),
        (week(weeks_ahead=0), "weeks_ahead"),
        (week(weeks_ahead=27), "weeks_ahead"),
        ({"slot_minutes": 30, "weeks_ahead": 1}, "windows"),
    ],
)
def test_a_bad_week_is_refused_and_nothing_changes(doctor, doctor_client, body, field):
    put(doctor_client, week((0, "09:00", "10:00")))
    before = list(TimeSlot.objects.values_list("id", flat=True))

    response = put(doctor_client, body)

    assert response.status_code == 400
    assert field in response.json()
    assert list(TimeSlot.objects.values_list("id", flat=True)) == before
    assert doctor_client.get(SCHEDULE_URL).json()["windows"] == [
        {"weekday": 0, "start_time": "09:00:00", "end_time": "10:00:00"}
    ]


def test_touching_windows_are_fine(doctor, doctor_client):
    response = put(doctor_client, week((0, "09:00", "10:00"), (0, "10:00", "11:00")))

    assert (response.status_code, response.json()["made"]) == (200, 4)


def test_over_the_open_slot_cap_nothing_changes(doctor, doctor_client, settings):
    put(doctor_client, week((0, "09:00", "10:00")))
    settings.MAX_OPEN_SLOTS_PER_DOCTOR = 5

    response = put(doctor_client, week((0, "14:00", "18:00")))

    assert (response.status_code, response.json()) == (400, {"message": "Too many open slots"})
    assert times(doctor, MONDAY) == ["09:00-09:30", "09:30-10:00"]
    assert Schedule.objects.get().windows.get().start_time == time(9, 0)


def test_the_cap_counts_the_slots_the_change_removes(doctor, doctor_client, settings):
    put(doctor_client, week((0, "09:00", "11:00")))
    settings.MAX_OPEN_SLOTS_PER_DOCTOR = 4

    assert put(doctor_client, week((0, "14:00", "16:00"))).status_code == 200


# --- the clock -----------------------------------------------------------------------------------


def test_a_slot_at_a_time_the_clock_skips_is_not_made(doctor, doctor_client, settings, frozen):
    settings.TIME_ZONE = "Europe/Berlin"  # 31 March 2030: 02:00 jumps to 03:00
    frozen(datetime(2030, 3, 25, 6, 0, tzinfo=UTC))

    put(doctor_client, week((6, "01:00", "04:00")))

    assert times(doctor, date(2030, 3, 31)) == ["01:00-01:30", "03:00-03:30", "03:30-04:00"]
    assert times(doctor, date(2030, 3, 31) - timedelta(days=7)) == []  # before today


def test_a_repeated_hour_is_made_once(doctor, doctor_client, settings, frozen):
    settings.TIME_ZONE = "Europe/Berlin"  # 27 October 2030: 03:00 goes back to 02:00
    frozen(datetime(2030, 10, 21, 6, 0, tzinfo=UTC))

    put(doctor_client, week((6, "01:30", "03:30"), slot_minutes=60))

    assert times(doctor, date(2030, 10, 27)) == ["01:30-02:30", "02:30-03:30"]


# --- overrides -----------------------------------------------------------------------------------


def test_an_override_closes_a_day(doctor, doctor_client):
    put(doctor_client, week((0, "09:00", "10:00"), weeks_ahead=2))
    next_monday = MONDAY + timedelta(weeks=1)

    response = override(doctor_client, next_monday)

    assert response.status_code == 201
    assert response.json() == {
        "date": next_monday.isoformat(),
        "windows": [],
        "made": 0,
        "removed": 2,
        "kept": [],
    }
    assert times(doctor, next_monday) == []
    assert times(doctor, MONDAY) == ["09:00-09:30", "09:30-10:00"]


def test_an_override_gives_a_day_other_hours(doctor, doctor_client):
    put(doctor_client, week((0, "09:00", "10:00"), slot_minutes=20))

    reply = override(doctor_client, MONDAY, ("13:00", "14:00")).json()

    assert (reply["made"], reply["removed"]) == (3, 3)
    assert reply["windows"] == [{"start_time": "13:00:00", "end_time": "14:00:00"}]
    assert times(doctor, MONDAY) == ["13:00-13:20", "13:20-13:40", "13:40-14:00"]
    assert Override.objects.get().slot_minutes == 20


def test_an_override_without_a_schedule_cuts_30_minute_slots_on_any_date(doctor, doctor_client):
    far = MONDAY + timedelta(days=730)

    reply = override(doctor_client, far, ("09:00", "10:00")).json()

    assert reply["made"] == 2
    assert set(TimeSlot.objects.values_list("duration", "source")) == {(30, "schedule")}


def test_a_second_override_of_a_date_replaces_it(doctor, doctor_client):
    override(doctor_client, MONDAY, ("09:00", "10:00"))

    response = override(doctor_client, MONDAY, ("11:00", "11:30"))

    assert (response.status_code, response.json()["removed"]) == (201, 2)
    assert Override.objects.count() == 1
    assert times(doctor, MONDAY) == ["11:00-11:30"]


def test_an_override_names_the_booked_slots_that_stay(doctor, doctor_client, patient_client):
    put(doctor_client, week((0, "09:00", "10:00")))
    slot = schedule_slot(doctor)
    book(patient_client, slot)

    reply = override(doctor_client, MONDAY).json()

    assert (reply["removed"], reply["kept"]) == (1, [slot.pk])


def test_overrides_touch_schedule_made_slots_only(doctor, doctor_client):
    TimeSlotFactory(doctor=doctor, date=MONDAY, start_time=time(9, 0))

    reply = override(doctor_client, MONDAY, ("09:00", "10:00")).json()

    assert (reply["made"], reply["removed"]) == (1, 0)
    assert times(doctor, MONDAY) == ["09:00-09:30", "09:30-10:00"]


def test_a_put_neither_makes_nor_removes_slots_on_a_date_with_an_override(doctor, doctor_client):
    override(doctor_client, MONDAY, ("15:00", "15:30"))

    reply = put(doctor_client, week((0, "09:00", "10:00"))).json()

    assert (reply["made"], reply["removed"]) == (0, 0)
    assert times(doctor, MONDAY) == ["15:00-15:30"]


def test_overrides_are_listed_from_today_by_date(doctor, doctor_client):
    override(doctor_client, MONDAY + timedelta(days=3))
    override(doctor_client, MONDAY, ("09:00", "09:30"))
    Override.objects.create(doctor=doctor, date=MONDAY - timedelta(days=1))

    response = doctor_client.get(OVERRIDES_URL)

    assert response.json() == [
        {"date": "2030-06-10", "windows": [{"start_time": "09:00:00", "end_time": "09:30:00"}]},
        {"date": "2030-06-13", "windows": []},
    ]


def test_deleting_an_override_gives_the_day_back_to_the_week(doctor, doctor_client):
    put(doctor_client, week((0, "09:00", "10:00")))
    override(doctor_client, MONDAY, ("15:00", "15:30"))

    response = delete_override(doctor_client, MONDAY)

    assert response.status_code == 200
    assert response.json() == {"date": "2030-06-10", "made": 2, "removed": 1, "kept": []}
    assert times(doctor, MONDAY) == ["09:00-09:30", "09:30-10:00"]
    assert not Override.objects.exists()


def test_deleting_an_override_beyond_the_horizon_leaves_the_day_empty(doctor, doctor_client):
    put(doctor_client, week((0, "09:00", "10:00")))
    later = MONDAY + timedelta(weeks=5)
    override(doctor_client, later, ("09:00", "09:30"))

    assert delete_override(doctor_client, later).json()["removed"] == 1
    assert times(doctor, later) == []


@pytest.mark.parametrize("day", ["2030-06-11", "2030-02-30", "tomorrow"])
def test_deleting_an_unknown_override_is_404(doctor_client, day):
    response = doctor_client.delete(f"{OVERRIDES_URL}{day}/")

    assert (response.status_code, response.json()) == (404, {"message": "Override not found"})


def test_another_doctors_override_is_not_mine_to_delete(doctor_client, other_doctor):
    override(client_for(other_doctor), MONDAY)

    assert delete_override(doctor_client, MONDAY).status_code == 404
    assert Override.objects.count() == 1


@pytest.mark.parametrize(
    "day,hours,field",
    [
        (MONDAY - timedelta(days=1), [], "date"),
        (MONDAY + timedelta(days=731), [], "date"),
        (MONDAY, [("10:00", "09:00")], "windows"),
        (MONDAY, [("09:00", "10:00"), ("09:30", "11:00")], "windows"),
    ],
)
def test_a_bad_override_is_refused_and_nothing_changes(doctor, doctor_client, day, hours, field):
    put(doctor_client, week((0, "09:00", "10:00")))

    response = override(doctor_client, day, *hours)

    assert response.status_code == 400
    assert field in response.json()
    assert not Override.objects.exists()
    assert times(doctor, MONDAY) == ["09:00-09:30", "09:30-10:00"]


# --- the daily roll ------------------------------------------------------------------------------


def test_the_roll_makes_the_day_that_entered_the_horizon(doctor, doctor_client, frozen):
    put(doctor_client, week((0, "09:00", "10:00"), (1, "09:00", "10:00")))
    frozen(datetime(2030, 6, 11, 6, 0, tzinfo=UTC))

    assert roll_horizons() == 2

    assert times(doctor, MONDAY + timedelta(weeks=1)) == ["09:00-09:30", "09:30-10:00"]
    assert Schedule.objects.get().made_through == MONDAY + timedelta(days=7)


def test_rolling_twice_makes_nothing_twice(doctor, doctor_client, frozen):
    put(doctor_client, week((0, "09:00", "10:00")))
    frozen(datetime(2030, 6, 12, 6, 0, tzinfo=UTC))

    assert roll() == 2
    assert roll() == 0
    assert TimeSlot.objects.count() == 4


def test_the_roll_skips_a_date_with_an_override(doctor, doctor_client, frozen):
    put(doctor_client, week((0, "09:00", "10:00")))
    override(doctor_client, MONDAY + timedelta(weeks=1))
    frozen(datetime(2030, 6, 11, 6, 0, tzinfo=UTC))

    assert roll() == 0
    assert times(doctor, MONDAY + timedelta(weeks=1)) == []


def test_the_roll_catches_up_after_days_without_a_run(doctor, doctor_client, frozen):
    put(doctor_client, week((0, "09:00", "10:00"), (2, "09:00", "10:00")))
    frozen(datetime(2030, 6, 14, 6, 0, tzinfo=UTC))  # Friday

    assert roll() == 4  # next Monday and Wednesday


def test_a_doctor_over_the_cap_is_not_rolled_and_the_others_are(
    doctor, other_doctor, doctor_client, frozen, settings
):
    put(doctor_client, week((0, "09:00", "10:00")))
    put(client_for(other_doctor), week((0, "09:00", "09:30")))
    TimeSlotFactory(doctor=doctor, date=MONDAY + timedelta(days=3))
    settings.MAX_OPEN_SLOTS_PER_DOCTOR = 2
    frozen(datetime(2030, 6, 11, 6, 0, tzinfo=UTC))

    assert roll() == 1  # the other doctor's Monday

    assert Schedule.objects.get(doctor=doctor).made_through == MONDAY + timedelta(days=6)
    assert times(doctor, MONDAY + timedelta(weeks=1)) == []


def test_made_slots_are_offered_to_the_waitlist(doctor, doctor_client):
    entry = WaitlistEntryFactory(doctor=doctor, date_from=MONDAY, date_to=MONDAY)

    put(doctor_client, week((0, "09:00", "10:00")))

    entry.refresh_from_db()
    assert entry.status == "offered"
    assert Hold.objects.get().slot == schedule_slot(doctor)


# --- cost -----------------------------------------------------------------------------------------


def _statements(captured):
    """The queries but the batches of one bulk insert of slots, or of their audit
    entries (SQLite cuts a bulk insert into batches of its parameter limit;
    PostgreSQL sends one)."""
    bulk = ('INSERT INTO "doctor_timeslot"', 'INSERT INTO "audit_auditentry"')
    return [q for q in captured if not q["sql"].startswith(bulk)]


def test_a_put_costs_the_same_queries_for_one_week_as_for_26(doctor, doctor_client):
    body = week(*((d, "08:00", "18:00") for d in range(7)), slot_minutes=60)
    put(doctor_client, body | {"weeks_ahead": 1})
    with CaptureQueriesContext(connection) as small:
        put(doctor_client, body | {"weeks_ahead": 2})
    with CaptureQueriesContext(connection) as large:
        reply = put(doctor_client, body | {"weeks_ahead": 26}).json()

    assert reply["made"] == 24 * 7 * 10
    assert len(_statements(large.captured_queries)) == len(_statements(small.captured_queries))
    if on_postgres():
        assert len(large.captured_queries) == len(small.captured_queries)


# --- a booking racing a schedule change (PostgreSQL) ---------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not on_postgres(), reason="needs PostgreSQL: SQLite has no row locks")
def test_a_booking_racing_a_schedule_change_books_it_or_finds_it_gone(doctor):
    doctor_client = client_for(doctor)
    put(doctor_client, week((0, "09:00", "12:00")))
    slots = list(TimeSlot.objects.order_by("start_time"))
    patients = [client_for(PatientFactory()) for _ in slots]

    calls = [lambda: put(doctor_client, week())]
    calls += [lambda c=c, s=s: book(c, s) for c, s in zip(patients, slots, strict=True)]
    replies = run_together(calls)

    booked = {s.pk for s, r in zip(slots, replies[1:], strict=True) if r.status_code == 200}
    for reply in replies[1:]:
        assert reply.status_code in (200, 404), reply.json()
    remaining = set(TimeSlot.objects.current().values_list("pk", flat=True))
    assert remaining == booked
    assert set(Booking.objects.values_list("slot_id", flat=True)) == booked


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not on_postgres(), reason="needs PostgreSQL: SQLite has no row locks")
def test_two_rolls_at_once_make_nothing_twice(doctor, frozen):
    put(client_for(doctor), week((0, "09:00", "10:00"), (1, "09:00", "10:00")))
    frozen(datetime(2030, 6, 12, 6, 0, tzinfo=UTC))

    made = run_together([roll, roll, roll])

    assert sum(made) == 4
    assert TimeSlot.objects.count() == 8


# --- the rule and its query twin ---------------------------------------------------------------


def test_a_kept_slot_is_gone_exactly_when_its_query_twin_says_so(doctor, patient, frozen):
    from doctor import rules

    kept = dict(source="schedule", unscheduled_at=datetime(2030, 6, 1, tzinfo=UTC))
    cases = [
        TimeSlotFactory(doctor=doctor, start_time=time(9, 0), **kept),  # free: gone
        TimeSlotFactory(doctor=doctor, start_time=time(10, 0), **kept),  # held
        TimeSlotFactory(
            doctor=doctor, start_time=time(11, 0), is_booked=True, is_available=False, **kept
        ),
        TimeSlotFactory(doctor=doctor, start_time=time(12, 0)),  # not marked
    ]
    HoldFactory(slot=cases[1], patient=patient)

    gone = set(TimeSlot.objects.unfit_gone().values_list("pk", flat=True))
    shown = set(TimeSlot.objects.not_gone().values_list("pk", flat=True))

    for slot in cases:
        expected = rules.gone_unfit(slot, slot.holds.live().first())
        assert (slot.pk in gone, slot.pk not in shown) == (expected, expected)
    assert gone == {cases[0].pk}
