"""Keeping a doctor's schedule-made slots in step with their schedule and overrides.

Every change (a PUT of the weekly schedule, an override saved or deleted, the
daily roll) is one unit of work (doctor.unit.slot_change) that calls sync():
the schedule-made slots of the days concerned are locked (slots first, as
everywhere), then the doctor's row, which serializes every writer of that
doctor's slots; what to make is decided only then, on what is committed. The
slots are written through the unit's scheduled()/unscheduled() alone.
"""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction

from config.errors import NotFound, Refused
from doctor import rules
from doctor.clock import clinic_now, wall_clock_exists
from doctor.locks import lock_user
from doctor.models import Hold, TimeSlot
from doctor.unit import slot_change
from schedules.models import (
    DEFAULT_SLOT_MINUTES,
    DEFAULT_WEEKS,
    Override,
    OverrideWindow,
    Schedule,
    Window,
)

logger = logging.getLogger(__name__)

OVERRIDE_NOT_FOUND = "Override not found"
OVERRIDE_DAYS_AHEAD = rules.MAX_DAYS_AHEAD  # an override's date: today up to 730 days on


def _clock(value):
    return timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)


def _time_of(clock):
    return (datetime.min + clock).time()


def grid(day, windows, minutes):
    """The (start, end, minutes) of the slots `windows` make on `day`: from each
    window's start, k x `minutes` (the grid never shifts), while a slot fits before
    its end; a slot that starts or ends at a time the clinic's clock skips that day
    is not made (a repeated time means its first occurrence, as for manual slots)."""
    step, slots = timedelta(minutes=minutes), []
    for start_time, end_time in windows:
        start, last = _clock(start_time), _clock(end_time)
        while start + step <= last:
            begin, end = _time_of(start), _time_of(start + step)
            if wall_clock_exists(day, begin) and wall_clock_exists(day, end):
                slots.append((begin, end, minutes))
            start += step
    return slots


def horizon(weeks_ahead, today=None):
    """The schedule's days: 7 x weeks_ahead days from today, in the clinic's zone."""
    today = today or clinic_now().date()
    return [today + timedelta(days=n) for n in range(7 * weeks_ahead)]


def weekly_windows(schedule):
    """{weekday: [(start, end), ...]} of a schedule (None: no schedule, no windows)."""
    by_day = defaultdict(list)
    if schedule is not None:
        for window in schedule.windows.all():
            by_day[window.weekday].append((window.start_time, window.end_time))
    return by_day


def _lock_range(doctor, first, last):
    """The doctor's current slots dated first..last."""
    return TimeSlot.objects.current().filter(doctor=doctor, date__gte=first, date__lte=last)


class Outcome:
    def __init__(self):
        self.made, self.removed, self.kept = [], [], []


def sync(change, doctor, plan, *, first, last):
    """Make the doctor's schedule-made slots on each day of `plan()` what it says.

    `plan()`, called under the doctor's lock, gives {date: grid(...)}; first..last
    bounds the days it may name (their slots are locked before the doctor's row,
    in the lock order of doctor/locks.py). On those days, the upcoming
    schedule-made slots outside the plan are removed when free and kept (marked)
    when booked or held; every planned slot that starts after now and overlaps
    no slot of the doctor is made. Over the open-slot cap: Refused, nothing written.
    """
    schedule_made = _lock_range(doctor, first, last).filter(source="schedule").order_by("pk")
    list(schedule_made.select_for_update().values_list("pk", flat=True))
    lock_user(doctor)
    plans = plan()
    outcome = Outcome()
    if not plans:
        return outcome
    days = _lock_range(doctor, min(plans), max(plans))
    # Again, now that the doctor's row serializes: with any made meanwhile.
    mine = list(days.filter(source="schedule").select_for_update().order_by("pk"))
    others = days.exclude(source="schedule").only("id", "date", "start_time", "end_time")
    held = set()
    if mine:
        live = Hold.objects.live().filter(slot__in=[s.pk for s in mine])
        held = set(live.values_list("slot_id", flat=True))
    by_day = defaultdict(list)
    for slot in [*mine, *others]:
        by_day[slot.date].append(slot)
    refit = []
    for day, wanted in plans.items():
        _sync_day(doctor, day, wanted, by_day[day], held, outcome, refit)
    _check_cap(doctor, outcome)
    change.unscheduled(outcome.removed, kept=outcome.kept)
    outcome.made = change.scheduled(doctor, outcome.made, refit=refit)
    return outcome


def _sync_day(doctor, day, wanted, slots, held, outcome, refit):
    """One day of sync(): decide what goes, what stays, what is made."""
    stay = _sort_existing(slots, {(start, end) for start, end, _ in wanted}, held, outcome, refit)
    for start, end, minutes in wanted:
        new = TimeSlot(
            doctor=doctor,
            date=day,
            start_time=start,
            end_time=end,
            duration=minutes,
            source="schedule",
        )
        if rules.slot_started(new) or any(rules.overlaps(new, old) for old in stay):
            continue
        stay.append(new)
        outcome.made.append(new)


def _sort_existing(slots, fits, held, outcome, refit):
    """The day's slots that stay; the upcoming schedule-made ones outside `fits` go
    to outcome.removed when free, to outcome.kept when booked or held."""
    stay = []
    for slot in slots:
        if slot.source != "schedule" or rules.slot_started(slot):
            stay.append(slot)
        elif (slot.start_time, slot.end_time) in fits:
            stay.append(slot)
            if slot.unscheduled_at is not None:
                refit.append(slot)
        elif slot.is_booked or slot.pk in held:
            stay.append(slot)
            outcome.kept.append(slot)
        else:
            outcome.removed.append(slot)
    return stay


def _check_cap(doctor, outcome):
    """MAX_OPEN_SLOTS_PER_DOCTOR, counted as it would be after the change (a change
    that makes nothing is never refused: removing slots cannot flood)."""
    if not outcome.made:
        return
    open_slots = TimeSlot.objects.current().filter(doctor=doctor, is_booked=False).upcoming()
    refusal = rules.open_slots_refusal(open_slots.count() - len(outcome.removed), len(outcome.made))
    if refusal:
        raise Refused(refusal)


# --- the weekly schedule ------------------------------------------------------------------


def schedule_of(doctor):
    """The doctor's schedule, or an unsaved default one (30 minutes, 4 weeks, no windows)."""
    schedule = Schedule.objects.filter(doctor=doctor).prefetch_related("windows").first()
    return schedule or Schedule(
        doctor=doctor, slot_minutes=DEFAULT_SLOT_MINUTES, weeks_ahead=DEFAULT_WEEKS
    )


def _override_dates(doctor, days):
    return set(
        Override.objects.filter(doctor=doctor, date__gte=days[0], date__lte=days[-1]).values_list(
            "date", flat=True
        )
    )


def _weekly_plan(schedule, days):
    """The plan of these days by the weekly windows, leaving out dates with an override."""
    windows = weekly_windows(schedule)
    skip = _override_dates(schedule.doctor, days)
    plans = {}
    for day in days:
        if day not in skip:
            plans[day] = grid(day, windows[day.weekday()], schedule.slot_minutes)
    return plans


def schedule_put(*, doctor, slot_minutes, weeks_ahead, windows):
    """Replace the doctor's weekly schedule and bring the horizon's slots in step.

    The days considered run from today to the end of the new horizon, or of the
    old one when it reached further (those later days have no hours any more)."""
    today = clinic_now().date()
    days = horizon(weeks_ahead, today)
    old_end = Schedule.objects.filter(doctor=doctor).values_list("made_through", flat=True)
    reach = max([days[-1], *(d for d in old_end if d is not None)])

    def plan():
        schedule, _ = Schedule.objects.update_or_create(
            doctor=doctor,
            defaults={
                "slot_minutes": slot_minutes,
                "weeks_ahead": weeks_ahead,
                "made_through": days[-1],
            },
        )
        schedule.windows.all().delete()
        Window.objects.bulk_create(Window(schedule=schedule, **window) for window in windows)
        considered = [today + timedelta(days=n) for n in range((reach - today).days + 1)]
        plans = _weekly_plan(schedule, considered)
        for day in considered[len(days) :]:
            if day in plans:
                plans[day] = []
        return plans

    with slot_change() as change:
        outcome = sync(change, doctor, plan, first=today, last=reach)
    return outcome


# --- date overrides -------------------------------------------------------------------------


def override_put(*, doctor, date, windows):
    """Give one date its own hours (none: closed), replacing any override it had."""

    def plan():
        schedule = Schedule.objects.filter(doctor=doctor).first()
        minutes = schedule.slot_minutes if schedule else DEFAULT_SLOT_MINUTES
        override, _ = Override.objects.update_or_create(
            doctor=doctor, date=date, defaults={"slot_minutes": minutes}
        )
        override.windows.all().delete()
        OverrideWindow.objects.bulk_create(
            OverrideWindow(override=override, **window) for window in windows
        )
        hours = [(window["start_time"], window["end_time"]) for window in windows]
        return {date: grid(date, hours, minutes)}

    with slot_change() as change:
        outcome = sync(change, doctor, plan, first=date, last=date)
    return outcome


def override_delete(*, doctor, date):
    """The date goes back to the weekly hours (none beyond the horizon)."""

    def plan():
        deleted, _ = Override.objects.filter(doctor=doctor, date=date).delete()
        if not deleted:
            raise NotFound(OVERRIDE_NOT_FOUND)
        schedule = Schedule.objects.filter(doctor=doctor).first()
        if schedule is None or date not in horizon(schedule.weeks_ahead):
            return {date: []}
        return _weekly_plan(schedule, [date])

    with slot_change() as change:
        outcome = sync(change, doctor, plan, first=date, last=date)
    return outcome


def overrides_of(doctor):
    """The doctor's overrides from today on, by date, with their windows."""
    today = clinic_now().date()
    overrides = Override.objects.filter(doctor=doctor, date__gte=today)
    return overrides.prefetch_related("windows").order_by("date")


# --- the daily roll ---------------------------------------------------------------------


ROLL_BATCH = 50  # doctors rolled per transaction (one commit each), each in a savepoint


def roll(today=None):
    """Make the days that entered each schedule's horizon since its last run
    (dates with an override left out); the number of slots made. Each doctor in
    a unit of work of their own, decided under their row's lock on what is
    committed: run twice, or on two workers at once, it makes nothing twice.
    Doctors go in id order, ROLL_BATCH to a commit, so two workers queue
    instead of deadlocking, and a thousand doctors cost twenty commits."""
    today = today or clinic_now().date()
    due = [
        schedule
        for schedule in Schedule.objects.select_related("doctor").order_by("pk")
        if schedule.made_through is None
        or schedule.made_through < today + timedelta(days=7 * schedule.weeks_ahead - 1)
    ]
    made = 0
    for start in range(0, len(due), ROLL_BATCH):
        with transaction.atomic():
            made += sum(roll_one(schedule, today) for schedule in due[start : start + ROLL_BATCH])
    return made


def roll_one(schedule, today):
    """Roll one schedule's horizon (see roll; `schedule` as read before any lock, with
    its doctor); the number of slots made."""
    schedule_id = schedule.pk
    end = today + timedelta(days=7 * schedule.weeks_ahead - 1)

    def first_day(made_through):
        return today if made_through is None else max(today, made_through + timedelta(days=1))

    def plan():
        # Read again under the doctor's lock: another run may have rolled it already.
        fresh = Schedule.objects.filter(pk=schedule_id).prefetch_related("windows").first()
        if fresh is None or fresh.weeks_ahead != schedule.weeks_ahead:
            return {}
        first = first_day(fresh.made_through)
        if first > end:
            return {}
        fresh.doctor = schedule.doctor
        Schedule.objects.filter(pk=schedule_id).update(made_through=end)
        days = [first + timedelta(days=n) for n in range((end - first).days + 1)]
        return _weekly_plan(fresh, days)

    try:
        with slot_change() as change:
            outcome = sync(
                change, schedule.doctor, plan, first=first_day(schedule.made_through), last=end
            )
    except Refused as refusal:
        # Over the open-slot cap: nothing made, the day stays due for the next run.
        logger.warning("schedule %s not rolled: %s", schedule_id, refusal)
        return 0
    return len(outcome.made)


# --- a kept slot freed while nothing ran ------------------------------------------------


def unfit_sweep(batch=500):
    """Remove the schedule-made slots marked unfit that count as gone (rules.gone_unfit:
    their hold lapsed while nothing ran): the periodic task writes it down. Each
    under its lock, in its own unit of work; the number removed."""
    gone = TimeSlot.objects.current().unfit_gone().order_by("pk")
    removed = 0
    for slot_id in list(gone.values_list("pk", flat=True)[:batch]):
        with slot_change() as change:
            slot = TimeSlot.objects.select_for_update().filter(pk=slot_id).first()
            if slot is not None and slot.retired_at is None and change.gone(slot):
                removed += 1
    return removed
