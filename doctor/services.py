"""The slot and booking rules, each stated once, each action in its own transaction.

Every way of writing a slot (the API, bulk, the admin and its actions,
seed_demo) goes through these functions, so a rule changed here holds
everywhere. They raise the domain's refusals (config.errors), never HTTP:
config.exceptions answers them in the contract's shape, the admin shows the
same texts as form errors or messages.

Every function here that changes slots, holds or bookings calls
bump_after_commit() inside its transaction, after its writes: the public lists
are served from a cache (doctor/listcache.py) that only that call invalidates.

Every action that decides on a slot's flags re-reads the row with
select_for_update() and decides on that locked copy, so a decision is never
made on a stale read (the pattern healthchecks uses). On SQLite the lock is a
no-op, but the IMMEDIATE transaction mode in settings serializes writers.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import Invalid, NotFound, Refused
from doctor.listcache import bump_after_commit
from doctor.models import (
    Booking,
    Hold,
    Review,
    TimeSlot,
    WaitlistEntry,
    clinic_datetime,
    clinic_now,
    wall_clock_exists,
)
from events.services import booking_data, event_emit, waitlist_data

MAX_BULK_SLOTS = 500
MAX_DAYS_AHEAD = 730  # a slot starts at most this many days after today

# One text per rule (Part 1's are frozen by the contract).
SLOT_NOT_FOUND = "Slot not found"
BOOKED_NOT_MODIFIED = "Booked slot cannot be modified"
BOOKED_NOT_DELETED = "Booked slot cannot be deleted"
ALREADY_BOOKED = "Slot already booked"
NOT_AVAILABLE = "Slot is not available"
IN_THE_PAST = "Slot is in the past"
NOT_BOOKED = "Slot is not booked"
HELD = "Slot is held"
HOLD_NOT_FOUND = "Hold not found"
BOOKING_NOT_FOUND = "Booking not found"
BOOKING_NOT_ACTIVE = "Booking is not active"
TOO_LATE_TO_RESCHEDULE = "Too late to reschedule"
OTHER_DOCTOR = "Slot belongs to another doctor"
TOO_SOON = "Slot is too soon to book"
TOO_FAR = "Slot is too far ahead to book"
TOO_MANY_BOOKINGS = "Too many active bookings"
TOO_LATE_TO_CANCEL = "Too late to cancel"
VISIT_NOT_STARTED = "Visit has not started"
VISIT_NOT_COMPLETED = "Visit not completed"
ALREADY_REVIEWED = "Already reviewed"
END_NOT_AFTER_START = "Must be after start_time."
PARTIAL_MINUTES = "The slot must last a whole number of minutes."
TOO_FAR_AHEAD = f"Slot starts more than {MAX_DAYS_AHEAD} days from today"
TOO_MANY_OPEN = "Too many open slots"
NOTHING_FITS = "No slot of that duration fits on the chosen days."
ALREADY_WAITING = "Already on the waitlist"
ENTRY_NOT_FOUND = "Waitlist entry not found"
LAPSED_BATCH = 500  # slots passed on per run of the periodic task
TOO_MANY_AT_ONCE = f"At most {MAX_BULK_SLOTS} slots can be created at once."


def duration_mismatch(minutes):
    return f"Must equal the minutes from start_time to end_time ({minutes})."


def skipped_time(which):
    zone = timezone.get_default_timezone_name()
    return f"Slot {which} at a time the clinic's clock skips ({zone})"


def overlap_with(other):
    return f"Overlaps slot {other.pk} ({other.start_time:%H:%M}-{other.end_time:%H:%M})"


class SlotNotFound(NotFound):
    """Missing, or not the caller's: the same 404 either way."""

    def __init__(self):
        super().__init__(SLOT_NOT_FOUND)


# --- the rules ------------------------------------------------------------------


def check_order(start_time, end_time):
    """A slot, or a bulk request's window, ends after it starts."""
    if end_time <= start_time:
        raise Invalid({"end_time": END_NOT_AFTER_START})


def slot_minutes(*, date, start_time, end_time, duration=None):
    """Check a slot's times (and `duration`, when given); return its length in minutes."""
    check_order(start_time, end_time)
    length = datetime.combine(date, end_time) - datetime.combine(date, start_time)
    if length % timedelta(minutes=1):
        raise Invalid({"non_field_errors": PARTIAL_MINUTES})
    minutes = length // timedelta(minutes=1)
    if duration not in (None, minutes):
        raise Invalid({"duration": duration_mismatch(minutes)})
    return minutes


def overlaps(slot, other):
    """Two slots share at least one minute (touching ends do not)."""
    return (
        slot.date == other.date
        and slot.start_time < other.end_time
        and slot.end_time > other.start_time
    )


def slot_change_refusal(slot, *, delete=False):
    """Why this slot may not be changed (or deleted) now, or None: it changes only
    through cancel once booked. The admin asks this too, to show it read-only."""
    if slot.is_booked:
        return BOOKED_NOT_DELETED if delete else BOOKED_NOT_MODIFIED
    if slot.holds.live().exists():
        return HELD
    return None


def _check_open_slots(doctor, adding):
    """A doctor's open slots (unbooked, still to start) stay at most
    settings.MAX_OPEN_SLOTS_PER_DOCTOR; called under the doctor's lock."""
    open_slots = TimeSlot.objects.filter(doctor=doctor, is_booked=False).upcoming()
    if open_slots.count() + adding > settings.MAX_OPEN_SLOTS_PER_DOCTOR:
        raise Refused(TOO_MANY_OPEN)


def _new_slot_refusal(slot, taken, *, check_past=True):
    """Why `slot` may not be written beside the doctor's `taken` slots, or None."""
    # First: far-future dates are refused before any datetime arithmetic on them.
    if slot.date > clinic_now().date() + timedelta(days=MAX_DAYS_AHEAD):
        return TOO_FAR_AHEAD
    for which, time in (("starts", slot.start_time), ("ends", slot.end_time)):
        if not wall_clock_exists(slot.date, time):
            return skipped_time(which)
    if check_past and slot.is_past:
        return IN_THE_PAST
    clash = next((old for old in taken if old.pk != slot.pk and overlaps(slot, old)), None)
    return None if clash is None else overlap_with(clash)


# --- locks and lookups ---------------------------------------------------------


def _locked_slots(slot_ids):
    """Lock these slots in id order (the order every multi-slot action uses); {id: slot}."""
    locked = TimeSlot.objects.select_for_update().filter(pk__in=slot_ids).order_by("pk")
    return {slot.pk: slot for slot in locked}


def _locked_slot(slot_id, **filters):
    slot = TimeSlot.objects.select_for_update().filter(pk=slot_id, **filters).first()
    if slot is None:
        raise SlotNotFound()
    return slot


def lock_doctor(doctor):
    # Serializes slot writes per doctor, so two overlapping writes cannot both
    # pass the overlap check before either is saved.
    get_user_model().objects.select_for_update().filter(pk=doctor.pk).first()


def _taken(doctor, dates):
    """The doctor's slots on these dates, by date: what a new slot must not overlap."""
    taken = defaultdict(list)
    existing = TimeSlot.objects.filter(doctor=doctor, date__in=set(dates))
    for old in existing.only("id", "date", "start_time", "end_time"):
        taken[old.date].append(old)
    return taken


def _label(slot):
    return f"{slot.date} {slot.start_time:%H:%M}-{slot.end_time:%H:%M}"


# --- creating, changing, deleting slots -------------------------------------------


def _insert_slots(*, doctor, slots, name_each, skip_taken=False):
    """Insert unsaved slots of `doctor` all or nothing; `name_each` prefixes each
    refusal with its slot's times (a bulk request names its conflicts)."""
    with transaction.atomic():
        lock_doctor(doctor)
        taken = _taken(doctor, (s.date for s in slots))
        if skip_taken:
            slots = [s for s in slots if not any(overlaps(s, o) for o in taken[s.date])]
        refusals = []
        for slot in slots:
            refusal = _new_slot_refusal(slot, taken[slot.date])
            if refusal is not None:
                refusals.append(f"{_label(slot)}: {refusal}" if name_each else refusal)
        if refusals:
            raise Invalid({"non_field_errors": refusals})
        _check_open_slots(doctor, len(slots))
        created = TimeSlot.objects.bulk_create(slots)
        # New rows nobody else can see yet: no lock needed to offer them.
        _offer_new_slots(doctor, created)
        bump_after_commit()
        return created


def slot_create(*, doctor, date, start_time, end_time, duration=None, is_available=True):
    """Add one slot for `doctor`; `duration` is computed when None."""
    minutes = slot_minutes(date=date, start_time=start_time, end_time=end_time, duration=duration)
    slot = TimeSlot(
        doctor=doctor,
        date=date,
        start_time=start_time,
        end_time=end_time,
        duration=minutes,
        is_available=is_available,
    )
    (created,) = _insert_slots(doctor=doctor, slots=[slot], name_each=False)
    created.doctor = doctor
    return created


def _clock(value):
    """A time of day as the timedelta since midnight: arithmetic that never
    leaves the day's date (and so never overflows at 9999-12-31)."""
    return timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)


def _time_of(clock):
    return (datetime.min + clock).time()


def plan_slots(*, doctor, date, date_to, weekdays, start_time, end_time, duration):
    """Back-to-back slots of `duration` minutes from start_time to end_time on each
    chosen weekday; stops one past MAX_BULK_SLOTS so a huge request costs nothing."""
    step, start, last = timedelta(minutes=duration), _clock(start_time), _clock(end_time)
    starts = []
    while start + step <= last:
        starts.append(start)
        start += step
    slots = []
    for offset in range((date_to - date).days + 1):
        day = date + timedelta(days=offset)
        if day.weekday() in weekdays:
            slots += [
                TimeSlot(
                    doctor=doctor,
                    date=day,
                    start_time=_time_of(clock),
                    end_time=_time_of(clock + step),
                    duration=duration,
                )
                for clock in starts
            ]
        if len(slots) > MAX_BULK_SLOTS:
            break
    return slots


def slots_bulk_create(*, doctor, skip_taken=False, **plan):
    """Create a run of slots all or nothing: any bad one rejects the whole request.

    skip_taken (seed_demo): leave out the slots that overlap existing ones
    instead of refusing, so that running it again adds nothing.
    """
    check_order(plan["start_time"], plan["end_time"])
    slots = plan_slots(doctor=doctor, **plan)
    if not slots:
        raise Invalid({"non_field_errors": NOTHING_FITS})
    if len(slots) > MAX_BULK_SLOTS:
        raise Invalid({"non_field_errors": TOO_MANY_AT_ONCE})
    created = _insert_slots(doctor=doctor, slots=slots, name_each=True, skip_taken=skip_taken)
    for slot in created:
        slot.doctor = doctor
    return created


def slot_check(*, slot_id=None, doctor, date, start_time, end_time, duration=None):
    """Check a new slot (slot_id None) or a staff edit of one, under the locks the
    write will hold; return the duration. The admin's form calls this inside its
    save transaction, so the check and the save are one step."""
    minutes = slot_minutes(date=date, start_time=start_time, end_time=end_time, duration=duration)
    with transaction.atomic():
        moved = True
        if slot_id is not None:
            old = _locked_slot(slot_id)
            if refusal := slot_change_refusal(old):
                raise Refused(refusal)
            moved = (old.date, old.start_time) != (date, start_time)
        lock_doctor(doctor)
        slot = TimeSlot(pk=slot_id, date=date, start_time=start_time, end_time=end_time)
        # An old slot may still be edited (say, disabled); moving it is like a new one.
        refusal = _new_slot_refusal(slot, _taken(doctor, [date])[date], check_past=moved)
        if refusal is not None:
            raise Invalid({"non_field_errors": refusal})
        if slot_id is None:
            _check_open_slots(doctor, 1)
    return minutes


def slot_update(*, slot_id, doctor, date, start_time, end_time, duration=None, is_available):
    """A staff edit of a free slot (the admin), under the rules of a new one."""
    fields = {"doctor": doctor, "date": date, "start_time": start_time, "end_time": end_time}
    with transaction.atomic():
        fields["duration"] = slot_check(slot_id=slot_id, duration=duration, **fields)
        slot = _locked_slot(slot_id)
        for name, value in {**fields, "is_available": is_available}.items():
            setattr(slot, name, value)
        slot.save(update_fields=[*fields, "is_available"])
        offer_freed_slot(slot)
        bump_after_commit()
    return slot


def slot_toggle(*, slot_id, doctor):
    """Flip a free slot's availability; a booked slot is never re-opened here."""
    with transaction.atomic():
        slot = _locked_slot(slot_id, doctor=doctor)
        if refusal := slot_change_refusal(slot):
            raise Refused(refusal)
        slot.is_available = not slot.is_available
        slot.save(update_fields=["is_available"])
        slot.doctor = doctor
        if slot.is_available:
            offer_freed_slot(slot)
        bump_after_commit()
    return slot


def slot_delete(*, slot_id, doctor=None):
    """Delete a slot that nobody has booked; `doctor` None is the staff path (the admin)."""
    mine = {} if doctor is None else {"doctor": doctor}
    with transaction.atomic():
        slot = _locked_slot(slot_id, **mine)
        _live_hold(slot)  # a lapsed offer ends its entry before the hold goes with the slot
        if refusal := slot_change_refusal(slot, delete=True):
            raise Refused(refusal)
        slot.delete()
        bump_after_commit()


# --- booking ----------------------------------------------------------------------


def slot_book(*, slot_id, patient):
    """Book a slot for `patient`: under any concurrency, one booking per slot."""
    with transaction.atomic():
        slot = _locked_slot(slot_id)
        hold = _live_hold(slot)
        _refuse_unbookable(slot, hold, patient)
        if hold is not None:
            _end_hold(hold, Hold.Status.USED)
        _set_booked(slot, True)
        booking = Booking.objects.create(slot=slot, patient=patient)
        event_emit("booking.created", booking_data(booking))
        bump_after_commit()
    return booking


def booking_cancel(*, slot_id, user=None, booking_id=None):
    """Cancel the active booking of a slot and make the slot bookable again.

    `user` must be the slot's doctor or the patient holding the booking (anyone
    else gets the same 404 as for a missing slot); None is the staff path used by
    the admin site, which may cancel any booking; it names the `booking_id` it
    means, so a booking made since the page was shown is never cancelled instead.
    """
    with transaction.atomic():
        slot = _locked_slot(slot_id)
        active = slot.bookings.filter(status=Booking.Status.BOOKED)
        booking = (active.filter(pk=booking_id) if booking_id else active).first()
        holder = booking.patient_id if booking else None
        if user is not None and user.pk not in (slot.doctor_id, holder):
            raise SlotNotFound()
        if booking is None:
            raise Refused(NOT_BOOKED)
        if slot.is_past:
            raise Refused(IN_THE_PAST)
        cancelled_by = _canceller(user, slot)
        # Only the patient is bound by the notice; the doctor and staff may always cancel.
        if cancelled_by == Booking.CancelledBy.PATIENT and _inside_cancel_notice(slot):
            raise Refused(TOO_LATE_TO_CANCEL)
        booking.status = Booking.Status.CANCELLED
        booking.cancelled_at = timezone.now()
        booking.cancelled_by = cancelled_by
        booking.save(update_fields=["status", "cancelled_at", "cancelled_by"])
        _set_booked(slot, False)
        event_emit("booking.cancelled", booking_data(booking))
        offer_freed_slot(slot, passed_by=booking.patient)
        bump_after_commit()
    booking.slot = slot
    return booking


def _canceller(user, slot):
    if user is None:
        return Booking.CancelledBy.STAFF
    if user.pk == slot.doctor_id:
        return Booking.CancelledBy.DOCTOR
    return Booking.CancelledBy.PATIENT


def _starts_within(slot, minutes):
    """The slot starts less than `minutes` from now (or has started)."""
    start = clinic_datetime(slot.date, slot.start_time)
    return start < timezone.now() + timedelta(minutes=minutes)


def _inside_cancel_notice(slot):
    """Too late for the patient to cancel or move a visit in this slot: less than its
    doctor's cancel_notice_minutes before the start (exactly that much is in time)."""
    return slot.is_past or _starts_within(slot, slot.doctor.cancel_notice_minutes)


def booking_window_refusal(slot):
    """Why the slot's doctor does not let patients book it now, or None: the
    doctor's minimum notice and horizon, as TimeSlotQuerySet.bookable() lists them.
    A slot starting exactly min_booking_notice_minutes from now may be booked."""
    doctor = slot.doctor
    if _starts_within(slot, doctor.min_booking_notice_minutes):
        return TOO_SOON
    ahead = doctor.max_booking_days_ahead
    if ahead is not None and slot.date > clinic_now().date() + timedelta(days=ahead):
        return TOO_FAR
    return None


def active_future_bookings(patient):
    """The patient's bookings that count against MAX_ACTIVE_BOOKINGS: booked, not yet started."""
    return Booking.objects.filter(
        patient=patient, status=Booking.Status.BOOKED, slot__in=TimeSlot.objects.upcoming()
    )


def _check_booking_cap(patient, *, lock=True):
    """At most MAX_ACTIVE_BOOKINGS per patient. Counted under the patient's row lock
    (taken after the slot's, as everywhere), so one patient's parallel bookings of
    different slots queue here and each counts the ones committed before it."""
    if lock:
        _lock_user(patient)
    if active_future_bookings(patient).count() >= settings.MAX_ACTIVE_BOOKINGS:
        raise Refused(TOO_MANY_BOOKINGS)


def _lock_user(user):
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def _live_hold(slot):
    """The slot's live hold, or None; a lapsed one is marked expired on the way.

    Call with the slot locked: holds of a slot change only under its lock.
    """
    hold = slot.holds.filter(status=Hold.Status.ACTIVE).first()
    if hold is not None and not hold.is_live:
        _end_hold(hold, Hold.Status.EXPIRED)
        return None
    return hold


# What ending an offer makes of its waitlist entry.
ENTRY_AFTER_OFFER = {
    Hold.Status.USED: WaitlistEntry.Status.BOOKED,
    Hold.Status.RELEASED: WaitlistEntry.Status.DECLINED,
    Hold.Status.EXPIRED: WaitlistEntry.Status.EXPIRED,
}


def _end_hold(hold, status):
    """Mark a hold used, released or expired (its slot locked); an offer ends its entry too."""
    hold.status = status
    hold.save(update_fields=["status"])
    if hold.kind == Hold.Kind.OFFER:
        WaitlistEntry.objects.filter(offer=hold, status=WaitlistEntry.Status.OFFERED).update(
            status=ENTRY_AFTER_OFFER[status]
        )


def hold_place(*, slot_id, patient):
    """Keep a slot for `patient` for HOLD_SECONDS; (hold, created).

    The patient's own live hold (or waitlist offer) on the slot comes back
    unchanged (never extended); their hold on another slot is released, so a
    patient keeps one slot at a time, and that slot passes to its waitlist.
    Offers are apart: holding releases none.
    """
    with transaction.atomic():
        # The previous hold's slot is locked with this one, in id order, so it
        # can be passed on in this transaction without a lock taken out of order.
        own = Hold.objects.filter(patient=patient, status=Hold.Status.ACTIVE, kind=Hold.Kind.HOLD)
        slots = _locked_slots({slot_id, *own.values_list("slot_id", flat=True)})
        slot = slots.get(slot_id)
        if slot is None:
            raise SlotNotFound()
        hold = _live_hold(slot)
        if not slot.is_booked and hold is not None and hold.patient_id == patient.pk:
            return hold, False
        _refuse_unbookable(slot, hold, patient)
        # One patient, one hold: their holds change only under their row's lock.
        _lock_user(patient)
        freed = []
        for previous in own:
            live = previous.is_live
            _end_hold(previous, Hold.Status.RELEASED if live else Hold.Status.EXPIRED)
            if previous.slot_id in slots:
                freed.append(slots[previous.slot_id])
        now = timezone.now()
        hold = Hold.objects.create(
            slot=slot,
            patient=patient,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.HOLD_SECONDS),
        )
        for other in freed:
            offer_freed_slot(other, passed_by=patient)
        bump_after_commit()
        return hold, True


def hold_release(*, hold_id, patient):
    """Give a live hold back; anything else of that id is 'Hold not found'."""
    with transaction.atomic():
        hold = Hold.objects.filter(pk=hold_id, patient=patient).first()
        if hold is None:
            raise NotFound(HOLD_NOT_FOUND)
        slot = _locked_slot(hold.slot_id)
        hold.refresh_from_db(fields=["status"])
        if not hold.is_live:
            raise NotFound(HOLD_NOT_FOUND)
        _end_hold(hold, Hold.Status.RELEASED)  # an offer's entry: declined
        offer_freed_slot(slot, passed_by=patient)
        bump_after_commit()
        return hold


def _slot_refusal(slot, hold, patient):
    """Why nobody but the holder may take the slot now, or None."""
    if slot.is_booked:
        return ALREADY_BOOKED
    if hold is not None and hold.patient_id != patient.pk:
        return HELD
    if not slot.is_available or not slot.doctor.is_active:
        return NOT_AVAILABLE
    if slot.is_past:
        return IN_THE_PAST
    return None


def _refuse_unbookable(slot, hold, patient, *, moving_from=None, lock=True):
    """The target's refusals shared by booking, holding and rescheduling, in contract order.

    `moving_from` is the slot a reschedule leaves: the target must be its doctor's,
    and the move adds no active booking, so the cap is not checked. `lock=False`
    counts the cap without locking the patient's row (judging a waitlist offer).
    """
    refusal = _slot_refusal(slot, hold, patient)
    if refusal is None and moving_from is not None and slot.doctor_id != moving_from.doctor_id:
        refusal = OTHER_DOCTOR
    refusal = refusal or booking_window_refusal(slot)
    if refusal is not None:
        raise Refused(refusal)
    if moving_from is None:
        _check_booking_cap(patient, lock=lock)


def booking_reschedule(*, booking_id, patient, slot_id):
    """Move `patient`'s active booking to another slot of the same doctor, all or nothing.

    Both slots are locked in id order, so two moves crossing each other queue
    instead of deadlocking; any refusal leaves the booking and both slots as they were.
    """
    with transaction.atomic():
        booking = Booking.objects.filter(pk=booking_id, patient=patient).first()
        if booking is None:
            raise NotFound(BOOKING_NOT_FOUND)
        slots = _locked_slots({booking.slot_id, slot_id})
        old_slot = slots[booking.slot_id]
        booking.refresh_from_db(fields=["status"])  # decided on under the slot's lock
        if booking.status != Booking.Status.BOOKED:
            raise Refused(BOOKING_NOT_ACTIVE)
        if _inside_cancel_notice(old_slot):
            raise Refused(TOO_LATE_TO_RESCHEDULE)
        target = slots.get(slot_id)
        if target is None:
            raise SlotNotFound()
        hold = _live_hold(target)
        _refuse_unbookable(target, hold, patient, moving_from=old_slot)
        if hold is not None:
            _end_hold(hold, Hold.Status.USED)
        booking.status = Booking.Status.RESCHEDULED
        booking.cancelled_at = timezone.now()
        booking.save(update_fields=["status", "cancelled_at"])
        _set_booked(old_slot, False)
        _set_booked(target, True)
        moved = Booking.objects.create(slot=target, patient=patient, rescheduled_from=booking)
        # The new booking is the event's data; the move emits no booking.created.
        event_emit("booking.rescheduled", booking_data(moved))
        offer_freed_slot(old_slot, passed_by=patient)
        bump_after_commit()
    return moved


def _set_booked(slot, booked):
    slot.is_booked, slot.is_available = booked, not booked
    slot.save(update_fields=["is_booked", "is_available"])


# --- the waitlist ---------------------------------------------------------------------
#
# Locks: slots first (in id order), then user rows, then waitlist entries; an
# entry is decided on under its own lock, so two slots freed at once never
# offer both to one entry.


def offer_freed_slot(slot, *, passed_by=None):
    """Offer a slot that just became bookable to the oldest waiting entry (FIFO by
    created_at, id) of its doctor whose range holds its date and whose patient
    could hold it; the entry offered, or None (the slot stays public).

    Call with the slot locked, inside the caller's transaction. `passed_by` is
    the patient who just gave the slot up: it is not offered straight back to them.
    """
    if _live_hold(slot) is not None or not TimeSlot.objects.bookable().filter(pk=slot.pk).exists():
        return None
    waiting = WaitlistEntry.objects.filter(
        doctor_id=slot.doctor_id,
        status=WaitlistEntry.Status.WAITING,
        date_from__lte=slot.date,
        date_to__gte=slot.date,
        patient__is_active=True,
    )
    if passed_by is not None:
        waiting = waiting.exclude(patient=passed_by)
    for entry in waiting.select_related("patient").order_by("created_at", "id"):
        if _could_hold(slot, entry.patient) and (entry := _locked_waiting(entry.pk)):
            return _make_offer(slot, entry)
    return None


def _could_hold(slot, patient):
    """Whether `patient` could hold the slot now: the refusals of booking and holding
    decide (_refuse_unbookable), so every clinic rule added there applies here too."""
    try:
        # Not the patient's row lock: an offer adds no booking (booking it counts the
        # cap under the lock), and locking a second user here could deadlock against
        # that user's own hold passing a slot to this one.
        _refuse_unbookable(slot, None, patient, lock=False)
    except Refused:
        return False
    return True


def _locked_waiting(entry_id):
    """The entry, locked, if it is still waiting (on PostgreSQL the filter is
    re-checked once a concurrent offer or leave commits)."""
    # of=self: the patient's row is read, not locked (user rows come before entries).
    entries = WaitlistEntry.objects.select_for_update(of=("self",)).select_related("patient")
    return entries.filter(pk=entry_id, status=WaitlistEntry.Status.WAITING).first()


def _make_offer(slot, entry):
    now = timezone.now()
    entry.offer = Hold.objects.create(
        slot=slot,
        patient=entry.patient,
        kind=Hold.Kind.OFFER,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.OFFER_SECONDS),
    )
    entry.status = WaitlistEntry.Status.OFFERED
    entry.save(update_fields=["offer", "status"])
    event_emit("waitlist.offered", waitlist_data(entry))
    return entry


def _offer_new_slots(doctor, slots):
    """Offer a doctor's newly added slots; one query when nobody waits for them."""
    if not slots:
        return
    dates = [slot.date for slot in slots]
    waiting = WaitlistEntry.objects.filter(
        doctor=doctor,
        status=WaitlistEntry.Status.WAITING,
        date_from__lte=max(dates),
        date_to__gte=min(dates),
    )
    if not waiting.exists():
        return
    for slot in slots:
        offer_freed_slot(slot)


def waitlist_join(*, patient, doctor, date_from, date_to):
    """Put `patient` on `doctor`'s waitlist. A slot already public is not offered:
    offers are for slots that become bookable; the patient can book what is listed."""
    open_entries = WaitlistEntry.objects.filter(
        patient=patient, doctor=doctor, status__in=WaitlistEntry.OPEN
    )
    if open_entries.exists():
        raise Refused(ALREADY_WAITING)
    try:
        with transaction.atomic():
            return WaitlistEntry.objects.create(
                patient=patient, doctor=doctor, date_from=date_from, date_to=date_to
            )
    except IntegrityError as exc:
        # Two joins at once: the partial unique constraint lets one in.
        raise Refused(ALREADY_WAITING) from exc


def waitlist_leave(*, entry_id, patient):
    """Take `patient`'s open entry off the waitlist; a live offer is released and
    passed on. Anything else of that id is 'Waitlist entry not found'."""
    entries = WaitlistEntry.objects.filter(pk=entry_id, patient=patient).select_related("offer")
    for _ in range(3):
        with transaction.atomic():
            entry = entries.first()
            if entry is None:
                break
            # The offer's slot before the entry (slots, then entries); an offer
            # made (or its slot deleted) between the read and the lock: read again.
            slot = (
                _locked_slots({entry.offer.slot_id}).get(entry.offer.slot_id)
                if entry.offer
                else None
            )
            locked = entries.select_for_update(of=("self",)).first()
            if locked is None or locked.offer_id != entry.offer_id:
                continue
            if locked.status not in WaitlistEntry.OPEN:
                break
            return _leave(locked, slot)
    raise NotFound(ENTRY_NOT_FOUND)


def _leave(entry, slot):
    """Called with the offer's slot (if any) and the entry locked."""
    if entry.status == WaitlistEntry.Status.OFFERED and slot is not None:
        hold = _live_hold(slot)  # a lapsed offer is ended on the way
        if hold is not None and hold.pk == entry.offer_id:
            _end_hold(hold, Hold.Status.RELEASED)
        # Released or lapsed, the slot passes on now.
        offer_freed_slot(slot, passed_by=entry.patient)
    entry.status = WaitlistEntry.Status.LEFT
    entry.save(update_fields=["status"])
    bump_after_commit()
    return entry


def lapsed_holds_pass_on():
    """The periodic task: end the holds and offers whose time is up and pass their
    slots on; the number of slots offered. Slot by slot, each under its lock and in
    its own transaction, so two workers (or two runs) do each slot's work once."""
    slot_ids = list(
        Hold.objects.lapsed()
        .order_by("expires_at")
        .values_list("slot_id", flat=True)[:LAPSED_BATCH]
    )
    offered = 0
    for slot_id in dict.fromkeys(slot_ids):
        with transaction.atomic():
            slot = TimeSlot.objects.select_for_update().filter(pk=slot_id).first()
            # Decided under the lock: another run may have passed it on already.
            lapsed = slot.holds.lapsed().select_related("patient").first() if slot else None
            if lapsed is None:
                continue
            # offer_freed_slot ends the lapsed hold (and its entry) on the way.
            if offer_freed_slot(slot, passed_by=lapsed.patient) is not None:
                offered += 1
            bump_after_commit()
    return offered


# --- visit outcomes and reviews --------------------------------------------------


def booking_outcome(*, booking_id, doctor, status):
    """The slot's doctor records how a started visit went: `completed` or `no_show`.

    The slot stays booked (its visit happened, or was due): it can be neither
    re-opened nor deleted, and the booking is no longer active.
    """
    with transaction.atomic():
        booking = Booking.objects.filter(pk=booking_id, slot__doctor=doctor).first()
        if booking is None:
            raise NotFound(BOOKING_NOT_FOUND)
        slot = _locked_slot(booking.slot_id)
        booking.refresh_from_db(fields=["status"])  # decided on under the slot's lock
        if booking.status != Booking.Status.BOOKED:
            raise Refused(BOOKING_NOT_ACTIVE)
        if not slot.is_past:
            raise Refused(VISIT_NOT_STARTED)
        booking.status = status
        booking.save(update_fields=["status"])
        event_emit(f"booking.{status}", booking_data(booking))
        bump_after_commit()  # the doctor card's count of patients
    booking.slot = slot
    return booking


def review_create(*, booking_id, patient, rating, comment=""):
    """The patient's review of their completed visit; one per booking (the database
    refuses a second one, so two at once give one review and one refusal)."""
    booking = Booking.objects.select_related("slot").filter(pk=booking_id, patient=patient).first()
    if booking is None:
        raise NotFound(BOOKING_NOT_FOUND)
    if booking.status != Booking.Status.COMPLETED:
        raise Refused(VISIT_NOT_COMPLETED)
    if Review.objects.filter(booking=booking).exists():
        raise Refused(ALREADY_REVIEWED)
    try:
        with transaction.atomic():
            review = Review.objects.create(
                booking=booking, doctor_id=booking.slot.doctor_id, rating=rating, comment=comment
            )
            bump_after_commit()  # the doctor card's rating
            return review
    except IntegrityError as exc:
        if not Review.objects.filter(booking=booking).exists():
            raise
        raise Refused(ALREADY_REVIEWED) from exc  # reviewed at the same moment
