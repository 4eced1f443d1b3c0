"""The rules of slots, holds and bookings, each stated once.

A rule is a refusal function (the contract's text, or None when the rule is
met) and, where a list must agree with it, the query that is its twin, right
beside it: a slot is in the public list exactly when booking_refusal() has
nothing to say about it (tests/test_rules.py holds the two against each other).
The querysets at the end gather the query twins as the models' methods.

Nothing here writes or locks, and nothing raises: the flows (doctor/slots.py,
bookings.py, holds.py, ...) ask these functions under their locks and raise
config.errors refusals with the texts they return. This module imports no
model (the models import it); a query reaches a related model through the
queryset's own model.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from doctor.clock import clinic_datetime, clinic_now, wall_clock_exists

MAX_DAYS_AHEAD = 730  # a slot starts at most this many days after today
# A patient's new hold on a slot they held within this long inherits the first one's expiry.
REHOLD_WINDOW = timedelta(hours=1)

# The texts, one per rule (Part 1's are frozen by the contract).
SLOT_NOT_FOUND = "Slot not found"
BOOKED_NOT_MODIFIED = "Booked slot cannot be modified"
BOOKED_NOT_DELETED = "Booked slot cannot be deleted"
ALREADY_BOOKED = "Slot already booked"
NOT_AVAILABLE = "Slot is not available"
IN_THE_PAST = "Slot is in the past"
NOT_BOOKED = "Slot is not booked"
HELD = "Slot is held"
HOLD_NOT_FOUND = "Hold not found"
HELD_RECENTLY = "Slot was held recently"
BOOKING_NOT_FOUND = "Booking not found"
BOOKING_NOT_ACTIVE = "Booking is not active"
TOO_LATE_TO_RESCHEDULE = "Too late to reschedule"
OTHER_DOCTOR = "Slot belongs to another doctor"
TOO_SOON = "Slot is too soon to book"
TOO_FAR = "Slot is too far ahead to book"
TOO_MANY_BOOKINGS = "Too many active bookings"
PATIENT_NOT_FOUND = "Patient not found"
TOO_LATE_TO_CANCEL = "Too late to cancel"
VISIT_NOT_STARTED = "Visit has not started"
VISIT_NOT_COMPLETED = "Visit not completed"
ALREADY_REVIEWED = "Already reviewed"
END_NOT_AFTER_START = "Must be after start_time."
PARTIAL_MINUTES = "The slot must last a whole number of minutes."
TOO_FAR_AHEAD = f"Slot starts more than {MAX_DAYS_AHEAD} days from today"
TOO_MANY_OPEN = "Too many open slots"
ALREADY_WAITING = "Already on the waitlist"
ENTRY_NOT_FOUND = "Waitlist entry not found"
RANGE_PASSED = "Must not be before today."
RETIRED = "Slot is retired"  # the admin's word; the API answers SLOT_NOT_FOUND
VISIT_TYPE_NOT_OFFERED = "Visit type not offered"

# Who made a slot (TimeSlot.source) and the kinds of visit (Booking.visit_type).
SOURCES = [("manual", "Made by the doctor"), ("schedule", "Made by the schedule")]
VISIT_TYPES = [("clinic", "At the clinic"), ("video", "Video call"), ("home", "Home visit")]
# The doctor's profile field holding each type's fee.
VISIT_FEE_FIELDS = {
    "clinic": "consultation_fee",
    "video": "video_consult_fee",
    "home": "home_consult_fee",
}


def duration_mismatch(minutes):
    return f"Must equal the minutes from start_time to end_time ({minutes})."


def skipped_time(which):
    zone = timezone.get_default_timezone_name()
    return f"Slot {which} at a time the clinic's clock skips ({zone})"


def overlap_with(other):
    return f"Overlaps slot {other.pk} ({other.start_time:%H:%M}-{other.end_time:%H:%M})"


def _related(queryset, field):
    """The model behind `field` of the queryset's model (no import of the models)."""
    return queryset.model._meta.get_field(field).related_model


# --- a slot with a history is retired, never deleted ------------------------------------


def retires_instead(slot):
    """Deleting this slot retires it: it has had a booking (any status), and its
    bookings stay in the lists, feeds and histories, so the row must stay too."""
    return slot.bookings.exists()


def slot_retired(slot):
    return slot.retired_at is not None


def current(slots):
    """Twin of slot_retired: the slots not retired. A retired slot is missing from
    every list and every slot endpoint, and counts for nothing (overlaps, caps)."""
    return slots.filter(retired_at__isnull=True)


# --- a schedule-made slot that no longer fits its schedule -------------------------------


def gone_unfit(slot, hold):
    """A schedule-made slot that no longer fits (`unscheduled_at`) stays only while it is
    booked or held (`hold`: its live hold, or None); once neither, it counts as gone
    (not listed, 404 to book or hold) even before the unit of work or the worker
    removes it."""
    return slot.unscheduled_at is not None and not slot.is_booked and hold is None


def _gone_unfit_q(slots):
    held = live(_related(slots, "holds").objects).filter(slot=OuterRef("pk"))
    return Q(unscheduled_at__isnull=False, is_booked=False) & ~Exists(held)


def unfit_gone(slots):
    """Twin of gone_unfit: the slots gone that way (the worker removes them)."""
    return slots.filter(_gone_unfit_q(slots))


def not_gone(slots):
    """The slots that are not gone that way (a doctor's own list)."""
    return slots.exclude(_gone_unfit_q(slots))


# --- a slot has started ---------------------------------------------------------------


def slot_started(slot):
    """Past once its start on the clinic's clock is not after now."""
    return clinic_datetime(slot.date, slot.start_time) <= timezone.now()


def upcoming(slots, now=None):
    """Twin of slot_started: the slots whose start is still after now (`now`: the
    clinic's, given by a caller that compiles the query once, see doctor/locks.py)."""
    now = now or clinic_now()
    # date >= today adds nothing logically, but lets the planner read the
    # (date, start_time) index from today on instead of filtering every row.
    return slots.filter(Q(date__gt=now.date()) | Q(start_time__gt=now.time()), date__gte=now.date())


# --- a hold keeps its slot --------------------------------------------------------------


def hold_is_live(hold):
    """Neither released, used nor past `expires_at`: nothing has to run for a hold to end."""
    return hold.status == hold.Status.ACTIVE and hold.expires_at > timezone.now()


def live(holds):
    """Twin of hold_is_live."""
    return holds.filter(status=holds.model.Status.ACTIVE, expires_at__gt=timezone.now())


def lapsed(holds):
    """Holds still marked active whose time is up: their slots wait to be passed on."""
    return holds.filter(status=holds.model.Status.ACTIVE, expires_at__lte=timezone.now())


def rehold_since():
    """The start of the rehold window: holds placed after it are `recent`."""
    return timezone.now() - REHOLD_WINDOW


def recent(holds, since=None):
    """The holds placed within the last REHOLD_WINDOW (the patient's own, not waitlist
    offers), first first: asked of one patient's holds on one slot, the first one's
    `expires_at` is the most a new hold of theirs on it may last. (`since`: the
    window's start, given by a caller that compiles the query once: locks.hold_reads)."""
    since = since or rehold_since()
    own = holds.filter(kind=holds.model.Kind.HOLD, created_at__gt=since)
    return own.order_by("created_at", "id")


def rehold_refusal(first_expires_at):
    """A hold is never extended, not even by releasing and holding again: a new hold
    ends when the patient's first hold on the slot within the hour (`recent`) ended;
    once that moment has passed, holding is refused (booking is not)."""
    if first_expires_at is not None and first_expires_at <= timezone.now():
        return HELD_RECENTLY
    return None


def with_held(slots):
    """Each slot with `is_held`: whether a hold on it is live now."""
    held = live(_related(slots, "holds").objects).filter(slot=OuterRef("pk"))
    return slots.annotate(is_held=Exists(held))


# --- the doctor's booking window: minimum notice and horizon -----------------------------


def starts_within(slot, minutes):
    """The slot starts less than `minutes` from now (or has started)."""
    return clinic_datetime(slot.date, slot.start_time) < timezone.now() + timedelta(minutes=minutes)


def booking_window_refusal(slot, *, notice=True):
    """Why the slot's doctor does not let patients book it now, or None. A slot
    starting exactly min_booking_notice_minutes from now may be booked; the front
    desk (`notice=False`) is not bound by that notice, only by the horizon."""
    doctor = slot.doctor
    if notice and starts_within(slot, doctor.min_booking_notice_minutes):
        return TOO_SOON
    ahead = doctor.max_booking_days_ahead
    if ahead is not None and slot.date > clinic_now().date() + timedelta(days=ahead):
        return TOO_FAR
    return None


class InBookingWindow(models.Expression):
    """Twin of booking_window_refusal: True for a slot its doctor lets patients book now.

    One WHERE clause on the slot's own columns and its doctor's (already joined
    for is_active), so the public list stays one query on its index.
    PostgreSQL compares instants, as slot_started does; SQLite has no time
    zones and compares the clinic's wall clock (the same but across a DST change).
    `notice=False`: the front desk's window, without the minimum notice.
    """

    output_field = models.BooleanField()
    conditional = True

    def __init__(self, notice=True):
        super().__init__()
        self.columns = [
            F("date"),
            F("start_time"),
            F("doctor__min_booking_notice_minutes") if notice else RawSQL("0", ()),
            F("doctor__max_booking_days_ahead"),
        ]

    def get_source_expressions(self):
        return self.columns

    def set_source_expressions(self, exprs):
        self.columns = exprs

    def _compiled(self, compiler, connection):
        sqls, params = [], []
        for column in self.columns:
            sql, column_params = compiler.compile(column)
            sqls.append(sql)
            params.extend(column_params)
        return sqls, params

    def as_postgresql(self, compiler, connection):
        (day, start, notice, ahead), params = self._compiled(compiler, connection)
        assert not params
        sql = (
            f"(({day} + {start}) AT TIME ZONE %s >= %s + make_interval(mins => {notice})"
            f" AND ({ahead} IS NULL OR {day} <= %s::date + {ahead}))"
        )
        now = clinic_now()
        return sql, (timezone.get_default_timezone_name(), now, now.date())

    def as_sql(self, compiler, connection):  # SQLite
        (day, start, notice, ahead), params = self._compiled(compiler, connection)
        assert not params
        # Slot times are whole seconds: compare with now rounded up to one.
        now = clinic_now().replace(tzinfo=None)
        if now.microsecond:
            now = now.replace(microsecond=0) + timedelta(seconds=1)
        sql = (
            f"(({day} || ' ' || {start}) >= datetime(%s, '+' || {notice} || ' minutes')"
            f" AND ({ahead} IS NULL OR {day} <= date(%s, '+' || {ahead} || ' days')))"
        )
        return sql, (now.isoformat(sep=" "), now.date().isoformat())


# --- what a patient may book, hold, or move a booking to ------------------------------------


def slot_refusal(slot, hold, patient):
    """Why nobody but the holder of `hold` (the slot's live hold, or None) may take it now."""
    if slot.is_booked:
        return ALREADY_BOOKED
    if hold is not None and (patient is None or hold.patient_id != patient.pk):
        return HELD
    if not slot.is_available or not slot.doctor.is_active:
        return NOT_AVAILABLE
    if slot_started(slot):
        return IN_THE_PAST
    return None


def booking_refusal(slot, hold, patient, *, moving_from=None, notice=True):
    """The target's refusals shared by booking, holding and rescheduling, in the
    contract's order (the booking cap apart: it counts rows under a lock).
    `moving_from` is the slot a reschedule leaves: the target must be its doctor's.
    `notice=False`: the front desk's, without the doctor's minimum notice."""
    refusal = slot_refusal(slot, hold, patient)
    if refusal is None and moving_from is not None and slot.doctor_id != moving_from.doctor_id:
        refusal = OTHER_DOCTOR
    return refusal or booking_window_refusal(slot, notice=notice)


def bookable(slots, *, notice=True):
    """Twin of booking_refusal(slot, live hold, nobody): enabled, free, unheld,
    upcoming, of an active doctor, inside that doctor's booking window."""
    held = live(_related(slots, "holds").objects).filter(slot=OuterRef("pk"))
    free = slots.filter(is_available=True, is_booked=False, doctor__is_active=True)
    # Free and unheld: a slot marked unfit is gone (gone_unfit), so not listed.
    free = free.filter(unscheduled_at__isnull=True)
    return current(upcoming(free.exclude(Exists(held)))).filter(InBookingWindow(notice))


# --- the kinds of visit a doctor offers --------------------------------------------------------


def visit_type_refusal(doctor, visit_type):
    """A booking, hold or move naming a kind of visit the doctor does not offer
    (the profile's `visit_types`: clinic always, video and home by their fees)."""
    if visit_type is None or visit_type in doctor.visit_types:
        return None
    return VISIT_TYPE_NOT_OFFERED


def visit_fee(doctor, visit_type):
    """The doctor's fee for this kind of visit now, 0 when unset (kept by the booking)."""
    fee = getattr(doctor, VISIT_FEE_FIELDS[visit_type])
    return 0 if fee is None else fee


# --- how many visits a patient may have ahead -----------------------------------------------


def booking_cap_refusal(active_count):
    """At most MAX_ACTIVE_BOOKINGS bookings still to start, per patient."""
    return TOO_MANY_BOOKINGS if active_count >= settings.MAX_ACTIVE_BOOKINGS else None


def under_booking_cap_sql(count_sql):
    """Twin of booking_cap_refusal as an SQL condition, (sql, params): true while the
    count `count_sql` selects (no row: none) is under the cap."""
    return f"COALESCE(({count_sql}), 0) < %s", [settings.MAX_ACTIVE_BOOKINGS]


def active_future(bookings, now=None):
    """Twin of booking_cap_refusal's count: booked, and the slot still to start."""
    slots = _related(bookings, "slot").objects
    return bookings.filter(status=bookings.model.Status.BOOKED, slot__in=upcoming(slots, now))


# --- cancelling and moving a visit ------------------------------------------------------------


def inside_cancel_notice(slot):
    """Too late for the patient to cancel or move a visit in this slot: less than its
    doctor's cancel_notice_minutes before the start (exactly that much is in time)."""
    return slot_started(slot) or starts_within(slot, slot.doctor.cancel_notice_minutes)


# --- changing a slot ----------------------------------------------------------------------------


def slot_change_refusal(slot, *, delete=False):
    """Why this slot may not be changed (or deleted) now, or None: it changes only
    through cancel once booked, and never once retired. The admin asks this too, to
    show it read-only (the API never sees a retired slot: locks.locked_slot)."""
    if slot_retired(slot):
        return RETIRED
    if slot.is_booked:
        return BOOKED_NOT_DELETED if delete else BOOKED_NOT_MODIFIED
    if live(slot.holds.all()).exists():
        return HELD
    return None


def open_slots_refusal(open_count, adding):
    """A doctor's open slots (unbooked, still to start) stay at most MAX_OPEN_SLOTS_PER_DOCTOR."""
    return TOO_MANY_OPEN if open_count + adding > settings.MAX_OPEN_SLOTS_PER_DOCTOR else None


# --- a new slot, or a slot moved ------------------------------------------------------------------


def order_refusal(start_time, end_time):
    """A slot, or a bulk request's window, ends after it starts."""
    return END_NOT_AFTER_START if end_time <= start_time else None


def overlaps(slot, other):
    """Two slots share at least one minute (touching ends do not)."""
    return (
        slot.date == other.date
        and slot.start_time < other.end_time
        and slot.end_time > other.start_time
    )


def new_slot_refusal(slot, taken, *, check_past=True):
    """Why `slot` may not be written beside the doctor's `taken` slots, or None."""
    # First: far-future dates are refused before any datetime arithmetic on them.
    if slot.date > clinic_now().date() + timedelta(days=MAX_DAYS_AHEAD):
        return TOO_FAR_AHEAD
    for which, time in (("starts", slot.start_time), ("ends", slot.end_time)):
        if not wall_clock_exists(slot.date, time):
            return skipped_time(which)
    if check_past and slot_started(slot):
        return IN_THE_PAST
    clash = next((old for old in taken if old.pk != slot.pk and overlaps(slot, old)), None)
    return None if clash is None else overlap_with(clash)


# --- a waitlist entry's range ----------------------------------------------------------------


def range_passed(entry):
    """The entry's dates are all before the clinic's today: it can never be offered
    a slot, so it has ended (expired), whether or not that is written down yet."""
    return entry.date_to < clinic_now().date()


def passed(entries):
    """Twin of range_passed."""
    return entries.filter(date_to__lt=clinic_now().date())


# --- the query twins, as the models' queryset methods -------------------------------------------


class TimeSlotQuerySet(models.QuerySet):
    current = current
    not_gone = not_gone
    unfit_gone = unfit_gone
    upcoming = upcoming
    with_held = with_held
    bookable = bookable


class HoldQuerySet(models.QuerySet):
    live = live
    lapsed = lapsed
    recent = recent


class BookingQuerySet(models.QuerySet):
    active_future = active_future


class WaitlistEntryQuerySet(models.QuerySet):
    passed = passed
