"""A doctor's slots: create one or a run, edit (staff), toggle, delete.

Every way of writing a slot (the API, bulk, the admin and its actions,
seed_demo) goes through these functions, each in one unit of work under the
doctor's lock, so a rule changed in doctor/rules.py holds everywhere.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from config.errors import Invalid, Refused
from doctor import rules
from doctor.locks import SlotNotFound, live_hold, lock_user, locked_slot, taken
from doctor.models import TimeSlot
from doctor.unit import audit_made, audit_removed, slot_change, slot_fields

MAX_BULK_SLOTS = 500
NOTHING_FITS = "No slot of that duration fits on the chosen days."
TOO_MANY_AT_ONCE = f"At most {MAX_BULK_SLOTS} slots can be created at once."


def check_order(start_time, end_time):
    if refusal := rules.order_refusal(start_time, end_time):
        raise Invalid({"end_time": refusal})


def slot_minutes(*, date, start_time, end_time, duration=None):
    """Check a slot's times (and `duration`, when given); return its length in minutes."""
    check_order(start_time, end_time)
    length = datetime.combine(date, end_time) - datetime.combine(date, start_time)
    if length % timedelta(minutes=1):
        raise Invalid({"non_field_errors": rules.PARTIAL_MINUTES})
    minutes = length // timedelta(minutes=1)
    if duration not in (None, minutes):
        raise Invalid({"duration": rules.duration_mismatch(minutes)})
    return minutes


def _check_open_slots(doctor, adding):
    """Called under the doctor's lock."""
    open_slots = TimeSlot.objects.current().filter(doctor=doctor, is_booked=False).upcoming()
    if refusal := rules.open_slots_refusal(open_slots.count(), adding):
        raise Refused(refusal)


def _label(slot):
    return f"{slot.date} {slot.start_time:%H:%M}-{slot.end_time:%H:%M}"


def _refusals(slots, existing, name_each):
    refusals = []
    for slot in slots:
        refusal = rules.new_slot_refusal(slot, existing[slot.date])
        if refusal is not None:
            refusals.append(f"{_label(slot)}: {refusal}" if name_each else refusal)
    return refusals


def _insert_slots(*, doctor, slots, name_each, skip_taken=False):
    """Insert unsaved slots of `doctor` all or nothing; `name_each` prefixes each
    refusal with its slot's times (a bulk request names its conflicts)."""
    with slot_change() as change:
        lock_user(doctor)
        existing = taken(doctor, (s.date for s in slots))
        if skip_taken:
            slots = [s for s in slots if not any(rules.overlaps(s, o) for o in existing[s.date])]
        if refusals := _refusals(slots, existing, name_each):
            raise Invalid({"non_field_errors": refusals})
        _check_open_slots(doctor, len(slots))
        created = TimeSlot.objects.bulk_create(slots)
        audit_made(change, created)
        change.added(doctor, created)
    for slot in created:
        slot.doctor = doctor
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
    return _insert_slots(doctor=doctor, slots=slots, name_each=True, skip_taken=skip_taken)


def slot_check(*, slot_id=None, doctor, date, start_time, end_time, duration=None):
    """Check a new slot (slot_id None) or a staff edit of one, under the locks the
    write will hold; return the duration. The admin's form calls this inside its
    save transaction, so the check and the save are one step."""
    minutes = slot_minutes(date=date, start_time=start_time, end_time=end_time, duration=duration)
    with transaction.atomic():
        moved = True
        if slot_id is not None:
            old = locked_slot(slot_id)
            if refusal := rules.slot_change_refusal(old):
                raise Refused(refusal)
            moved = (old.date, old.start_time) != (date, start_time)
        lock_user(doctor)
        slot = TimeSlot(pk=slot_id, date=date, start_time=start_time, end_time=end_time)
        # An old slot may still be edited (say, disabled); moving it is like a new one.
        refusal = rules.new_slot_refusal(slot, taken(doctor, [date])[date], check_past=moved)
        if refusal is not None:
            raise Invalid({"non_field_errors": refusal})
        if slot_id is None:
            _check_open_slots(doctor, 1)
    return minutes


def slot_update(*, slot_id, doctor, date, start_time, end_time, duration=None, is_available):
    """A staff edit of a free slot (the admin), under the rules of a new one."""
    fields = {"doctor": doctor, "date": date, "start_time": start_time, "end_time": end_time}
    with slot_change() as change:
        fields["duration"] = slot_check(slot_id=slot_id, duration=duration, **fields)
        slot = locked_slot(slot_id)
        old = slot_fields(slot)
        for name, value in {**fields, "is_available": is_available}.items():
            setattr(slot, name, value)
        slot.save(update_fields=[*fields, "is_available"])
        changes = {k: [v, getattr(slot, k)] for k, v in old.items() if v != getattr(slot, k)}
        change.audit("slot.updated", slot=slot, changes=changes)
        change.freed(slot)
    return slot


def slot_toggle(*, slot_id, doctor):
    """Flip a free slot's availability; a booked slot is never re-opened here."""
    with slot_change() as change:
        slot = locked_slot(slot_id, doctor=doctor)
        # A schedule-made slot that no longer fits and was let go is gone already.
        if slot.unscheduled_at is not None and rules.gone_unfit(slot, live_hold(slot)):
            raise SlotNotFound()
        if refusal := rules.slot_change_refusal(slot):
            raise Refused(refusal)
        slot.is_available = not slot.is_available
        slot.save(update_fields=["is_available"])
        change.audit(
            "slot.toggled",
            slot=slot,
            changes={"is_available": [not slot.is_available, slot.is_available]},
        )
        slot.doctor = doctor
        if slot.is_available:
            change.freed(slot)
    return slot


def slot_delete(*, slot_id, doctor=None):
    """Delete a slot that nobody has booked; `doctor` None is the staff path (the admin).

    A slot with a history (rules.retires_instead) is retired instead: the row and
    its bookings stay, the slot leaves every list and every endpoint. True when
    it was retired, False when it was deleted."""
    mine = {} if doctor is None else {"doctor": doctor}
    with slot_change() as change:
        slot = locked_slot(slot_id, **mine)
        live_hold(slot)  # a lapsed offer ends its entry before the hold goes with the slot
        if refusal := rules.slot_change_refusal(slot, delete=True):
            raise Refused(refusal)
        if not rules.retires_instead(slot):
            audit_removed(change, slot)
            slot.delete()
            return False
        was_available, slot.is_available = slot.is_available, False
        slot.retired_at = timezone.now()
        slot.save(update_fields=["retired_at", "is_available"])
        retired = {"retired_at": [None, slot.retired_at], "is_available": [was_available, False]}
        audit_removed(change, slot, changes=retired)
        return True
