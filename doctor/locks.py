"""Row locks and the small writes made under them.

Every action that decides on a slot's flags re-reads the row with
select_for_update() and decides on that locked copy, so a decision is never
made on a stale read. Lock order, everywhere: slots (in id order), then user
rows, then waitlist entries. On SQLite the row lock is a no-op, but the
IMMEDIATE transaction mode in settings serializes writers.
"""

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, Subquery
from django.utils import timezone

from config.errors import NotFound, Refused
from config.prepared import (
    STAND_IN_DAY,
    STAND_IN_INSTANT,
    STAND_IN_TEXT,
    STAND_IN_TIME,
    STAND_INS,
    Prepared,
    PreparedUpdate,
    instances,
)
from doctor import rules
from doctor.clock import clinic_now
from doctor.models import Booking, Hold, TimeSlot, WaitlistEntry


class SlotNotFound(NotFound):
    """Missing, or not the caller's: the same 404 either way."""

    def __init__(self):
        super().__init__(rules.SLOT_NOT_FOUND)


def _lockable():
    """Every slot endpoint's slots: a retired slot is as missing as a deleted one.
    Its row is not locked either: nothing may change it any more. The doctor comes
    in the same statement (the rules read its window, policy, fees and is_active),
    read, not locked (of=self): user rows are locked after slots, by lock_user."""
    return TimeSlot.objects.current().select_related("doctor").select_for_update(of=("self",))


def locked_slots(slot_ids):
    """Lock these slots in id order (the order every multi-slot action uses); {id: slot}.
    A missing or retired slot is left out."""
    locked = _lockable().filter(pk__in=slot_ids).order_by("pk")
    return {slot.pk: slot for slot in locked}


# The booking's lock: compiled once per process (config/prepared.py).
_LOCKED_SLOT = Prepared(
    lambda slot_id: _lockable().filter(pk=slot_id).order_by("pk")[:1], STAND_INS[:1]
)


def locked_slot(slot_id, **filters):
    """The slot, locked; SlotNotFound when missing, retired, or not matching `filters`."""
    slot = _lockable().filter(pk=slot_id, **filters).first() if filters else _prepared(slot_id)
    if slot is None:
        raise SlotNotFound()
    return slot


def _prepared(slot_id):
    """_lockable().filter(pk=slot_id).first(), sent as _LOCKED_SLOT."""
    rows = _LOCKED_SLOT.rows(TimeSlot._meta.pk.get_prep_value(slot_id))
    return _slot_with_doctor(rows[0]) if rows else None


def _slot_with_doctor(row):
    """A _lockable() row: the slot's columns, then its doctor's (select_related), as
    the ORM selects them."""
    slot, end = instances(TimeSlot, row)
    slot.doctor = instances(get_user_model(), row, end)[0]
    return slot


def _own_holds(patient_id):
    """The patient's own active hold: at most one, the database says so
    (hold_one_active_per_patient). Waitlist offers are apart."""
    own = Hold.objects.filter(patient=patient_id, status=Hold.Status.ACTIVE, kind=Hold.Kind.HOLD)
    return own.order_by()  # one row at most: nothing to sort


# A hold's slot locks: the slot, and that of the patient's own hold, in id order.
# The hold's slot id is a scalar subquery (one row at most), so PostgreSQL finds
# both slots by their key (`id IN (subquery)` under an OR would scan them all).
_LOCKED_WITH_OWN_HOLD = Prepared(
    lambda slot_id, patient_id: (
        _lockable()
        .filter(Q(pk=slot_id) | Q(pk=Subquery(_own_holds(patient_id).values("slot_id")[:1])))
        .order_by("pk")
    )
)


def locked_slots_with_own_hold(slot_id, patient):
    """locked_slots({slot_id, the slot of the patient's own hold}) in one statement.
    The hold is read unlocked, before the locks: a pre-read only (hold_reads decides)."""
    rows = _LOCKED_WITH_OWN_HOLD.rows(TimeSlot._meta.pk.get_prep_value(slot_id), patient.pk)
    return {slot.pk: slot for slot in map(_slot_with_doctor, rows)}


def lock_user(user):
    """A doctor's row serializes their slot writes (two overlapping slots cannot both
    pass the overlap check); a patient's, their holds and their booking count."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def taken(doctor, dates):
    """The doctor's slots on these dates, by date: what a new slot must not overlap."""
    found = defaultdict(list)
    existing = TimeSlot.objects.current().filter(doctor=doctor, date__in=set(dates))
    for old in existing.only("id", "date", "start_time", "end_time"):
        found[old.date].append(old)
    return found


def lock_patient_with_live_hold(slot, patient):
    """Lock the patient's row and read the locked `slot`'s live hold, in ONE statement
    (the hold's columns ride on the user row as subqueries); the hold, or None.

    Safe in one statement although the lock may wait: the subqueries read with the
    statement's snapshot, taken after the slot's lock was granted, and a slot's
    holds change only under that lock. (The booking count is NOT read here: it
    changes under the patient's lock, so it is read after this statement.)"""
    rows = _PATIENT_WITH_HOLD.rows(slot.pk, patient.pk)
    return _unless_lapsed(_hold(rows[0], slot.pk, slot)) if rows else None


HOLD_COLUMNS = ("id", "patient_id", "status", "kind", "visit_type", "created_at", "expires_at")


def _hold_columns(slot_id, prefix="hold_"):
    """The slot's active hold's columns (HOLD_COLUMNS), as subqueries that a read of
    another row carries: no second statement."""
    holds = Hold.objects.filter(slot=slot_id, status=Hold.Status.ACTIVE).order_by("pk")
    return {f"{prefix}{name}": Subquery(holds.values(name)[:1]) for name in HOLD_COLUMNS}


def _hold(columns, slot_id, slot=None):
    """The hold in `columns` (_hold_columns' values), or None when the slot has none."""
    if columns[0] is None:
        return None
    hold = Hold.from_db(connection.alias, HOLD_COLUMNS, columns)
    hold.slot_id = slot_id
    if slot is not None:
        hold.slot = slot
    return hold


def _patient_with_hold(slot_id, patient_id):
    columns = _hold_columns(slot_id)
    users = get_user_model().objects.select_for_update().filter(pk=patient_id)
    return users.annotate(**columns).values_list(*columns)[:1]


# Compiled once per process (config/prepared.py): seven subqueries cost the ORM more
# CPU to build than the database to run.
_PATIENT_WITH_HOLD = Prepared(_patient_with_hold)


# live_hold's `active` when the caller has not read the slot's active hold.
UNREAD = object()


def live_hold(slot, active=UNREAD):
    """The slot's live hold, or None; a lapsed one is marked expired on the way.
    `active`: its active hold (or None), read already (with the slot locked, since
    the last change to its holds); by default it is read now.

    Call with the slot locked: holds of a slot change only under its lock.
    """
    if active is UNREAD:
        active = slot.holds.filter(status=Hold.Status.ACTIVE).first()
    return _unless_lapsed(active)


BOOKING_FIELDS = tuple(field.attname for field in Booking._meta.concrete_fields)


def cancel_active_booking(slot, cancelled_by, *, booking_id=None):
    """Cancel the locked slot's active booking (only if it is `booking_id`, when named),
    and read the slot's active hold, in ONE statement (UPDATE ... RETURNING, the
    hold's columns as subqueries): (the booking as cancelled, or None; the hold, or
    None, not yet judged live: see live_hold). The caller decides its refusals on the
    booking after: a refusal raised rolls the cancel back with its unit of work.

    Safe in one statement: it runs after the slot's lock was granted, and a slot's
    bookings and holds change only under that lock."""
    args = (slot.pk, timezone.now(), cancelled_by)
    rows = _CANCEL_NAMED.rows(*args, booking_id) if booking_id else _CANCEL.rows(*args)
    if not rows:
        return None, None
    booking, end = instances(Booking, rows[0])
    booking.slot = slot
    return booking, _hold(rows[0][end:], slot.pk, slot)


def _cancelled(slot_id, at, cancelled_by, booking_id=None):
    bookings = Booking.objects.filter(slot=slot_id, status=Booking.Status.BOOKED)
    if booking_id is not None:
        bookings = bookings.filter(pk=booking_id)
    hold = _hold_columns(slot_id)
    values = {"status": Booking.Status.CANCELLED, "cancelled_at": at, "cancelled_by": cancelled_by}
    return bookings.annotate(**hold).order_by().values_list(*BOOKING_FIELDS, *hold), values


# Compiled once per process; the clock's now is an argument (config/prepared.py).
_CANCEL = PreparedUpdate(_cancelled, (STAND_INS[0], STAND_IN_INSTANT, STAND_IN_TEXT))
_CANCEL_NAMED = PreparedUpdate(
    _cancelled, (STAND_INS[0], STAND_IN_INSTANT, STAND_IN_TEXT, STAND_INS[1])
)


def booking_status_and_holds(booking, slots, target_id):
    """A move's read under the locks of both slots, in ONE statement: the booking's
    status (None: it is gone), then the active holds (or None, not yet judged live:
    see live_hold) of the target and of the booking's slot, as (status, target's,
    old slot's).

    Safe in one statement: it runs after both slots' locks were granted, and a
    booking's status and a slot's holds change only under its slot's lock."""
    rows = _STATUS_AND_HOLDS.rows(booking.pk, target_id, booking.slot_id)
    if not rows:
        return None, None, None
    (status, *columns) = rows[0]
    n = len(HOLD_COLUMNS)
    target = _hold(columns[:n], target_id, slots.get(target_id))
    return status, target, _hold(columns[n:], booking.slot_id, slots.get(booking.slot_id))


def _status_and_holds(booking_id, target_id, slot_id):
    target = _hold_columns(target_id, "target_")
    old = _hold_columns(slot_id, "old_")
    bookings = Booking.objects.filter(pk=booking_id).annotate(**target, **old).order_by()
    return bookings.values_list("status", *target, *old)[:1]


_STATUS_AND_HOLDS = Prepared(_status_and_holds, STAND_INS[:3])


def _unless_lapsed(hold):
    """`hold`, or None when it is None or lapsed (then marked expired on the way)."""
    if hold is not None and not hold.is_live:
        end_hold(hold, Hold.Status.EXPIRED)
        return None
    return hold


# What ending an offer makes of its waitlist entry.
ENTRY_AFTER_OFFER = {
    Hold.Status.USED: WaitlistEntry.Status.BOOKED,
    Hold.Status.RELEASED: WaitlistEntry.Status.DECLINED,
    Hold.Status.EXPIRED: WaitlistEntry.Status.EXPIRED,
}


# The audit action of ending a hold; a used hold is in its booking's entry instead.
HOLD_ENDED = {Hold.Status.RELEASED: "hold.released", Hold.Status.EXPIRED: "hold.lapsed"}


def hold_created_changes(hold):
    """A new hold's audit `changes`: ids and values (its patient by id only)."""
    fields = ("status", "kind", "patient_id", "expires_at", "visit_type")
    return {"hold_id": [None, hold.pk], **{name: [None, getattr(hold, name)] for name in fields}}


def end_hold(hold, status):
    """Mark a hold used, released or expired (its slot locked); an offer ends its entry too.
    A lapsed hold's entry has no actor: no request ended it, its time did."""
    from doctor.unit import current_change  # the unit imports this module

    old, hold.status = hold.status, status
    hold.save(update_fields=["status"])
    if action := HOLD_ENDED.get(status):
        current_change().audit(
            action,
            slot=hold.slot_id,
            changes={"hold_id": [hold.pk, hold.pk], "status": [old, status]},
            worker=status == Hold.Status.EXPIRED,
        )
    if hold.kind == Hold.Kind.OFFER:
        WaitlistEntry.objects.filter(offer=hold, status=WaitlistEntry.Status.OFFERED).update(
            status=ENTRY_AFTER_OFFER[status]
        )


def set_booked(slot, booked, *, capped=None):
    """Flip the locked slot's flags; what changed, as an audit entry's `changes` has it.
    slot.save(update_fields=["is_booked", "is_available"]), as one plain statement
    (the ORM's save costs a booking more CPU than the update itself).

    `capped`, a patient whose row is locked: the slot is booked only while they are
    under the booking cap, counted in the same statement (unbookable_refusal with
    cap=False left it here); over it, nothing is updated and TOO_MANY_BOOKINGS is
    raised, so the unit rolls back what the write did before (a hold marked used)."""
    table = connection.ops.quote_name(TimeSlot._meta.db_table)
    sql = f'UPDATE {table} SET "is_available" = %s, "is_booked" = %s WHERE "id" = %s'
    params = [not booked, booked, slot.pk]
    if capped is not None:
        count_sql, count_params = _ACTIVE_FUTURE.sql([capped.pk, *_clinic_day_and_time()])
        under, under_params = rules.under_booking_cap_sql(count_sql)
        sql, params = f"{sql} AND {under}", [*params, *count_params, *under_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount == 0:  # the slot is locked: only the cap can refuse
            raise Refused(rules.TOO_MANY_BOOKINGS)
    old = {"is_booked": slot.is_booked, "is_available": slot.is_available}
    slot.is_booked, slot.is_available = booked, not booked
    return {f"slot.{name}": [value, getattr(slot, name)] for name, value in old.items()}


def unbookable_refusal(
    slot, hold, patient, *, moving_from=None, lock=True, notice=True, visit_type=None, cap=True
):
    """Why `patient` may not take the locked `slot` (whose live hold is `hold`), or None:
    the rules, then the kind of visit (when named), then the booking cap. A move adds
    no active booking, so it skips the cap. A slot gone as unfit (rules.gone_unfit)
    is missing: SlotNotFound.

    The cap is counted under the patient's row lock (taken after the slot's), so one
    patient's parallel bookings of different slots queue and each counts the ones
    committed before it; `lock="held"`: the caller holds that lock already
    (lock_patient_with_live_hold); `lock=False` counts without it (judging a waitlist offer).
    `cap=False`: the caller's write applies the cap instead (set_booked's `capped`),
    with the patient's lock held; nothing may refuse between the two.
    The front desk books without the minimum notice (`notice=False`) for a patient
    it names: none (not an active patient) is 404, after the slot's refusals.
    """
    refusal = uncapped_refusal(
        slot, hold, patient, moving_from=moving_from, notice=notice, visit_type=visit_type
    )
    if refusal is not None or moving_from is not None:
        return refusal
    if patient is None:
        raise NotFound(rules.PATIENT_NOT_FOUND)
    if not cap:
        return None
    if lock is True:
        lock_user(patient)
    counted = _ACTIVE_FUTURE.rows(patient.pk, *_clinic_day_and_time())
    return rules.booking_cap_refusal(counted[0][0] if counted else 0)


def uncapped_refusal(slot, hold, patient, *, moving_from=None, notice=True, visit_type=None):
    """unbookable_refusal's refusals before the cap (a hold counts with hold_reads)."""
    if rules.gone_unfit(slot, hold):
        raise SlotNotFound()
    refusal = rules.booking_refusal(slot, hold, patient, moving_from=moving_from, notice=notice)
    return refusal or rules.visit_type_refusal(slot.doctor, visit_type)


class _Moment:
    """Stands in for the clinic's now where a compiled query asks for its date and time."""

    def __init__(self, day, at):
        self.day, self.at = day, at

    def date(self):
        return self.day

    def time(self):
        return self.at


def _clinic_day_and_time():
    now = clinic_now()
    return now.date(), now.time()


def _active_future_count(patient_id, day, at):
    return (
        Booking.objects.filter(patient=patient_id)
        .active_future(now=_Moment(day, at))
        .order_by()
        .values("patient")
        .annotate(count=Count("pk"))
        .values_list("count")  # a row per patient: none when they have no booking
    )


# The patient's active future bookings, counted: compiled once per process, the
# clinic's date and time sent as arguments (never compiled in).
_ACTIVE_FUTURE = Prepared(_active_future_count, (STAND_INS[0], STAND_IN_DAY, STAND_IN_TIME))


# Every column, in the model's order (Hold.from_db takes a full row positionally).
OWN_HOLD_COLUMNS = tuple(field.attname for field in Hold._meta.concrete_fields)


def _hold_reads(patient_id, slot_id, day, at, since):
    first = Hold.objects.filter(slot=slot_id, patient=patient_id).recent(since)
    own = _own_holds(patient_id)
    columns = {
        "booked": Subquery(_active_future_count(patient_id, day, at)),
        "first_expires_at": Subquery(first.values("expires_at")[:1]),
        **{f"own_{name}": Subquery(own.values(name)[:1]) for name in OWN_HOLD_COLUMNS},
    }
    users = get_user_model().objects.filter(pk=patient_id)
    return users.annotate(**columns).values_list(*columns)[:1]


# Compiled once per process; the clinic's date and time and the rehold window's
# start are arguments.
_HOLD_READS = Prepared(_hold_reads, (*STAND_INS[:2], STAND_IN_DAY, STAND_IN_TIME, STAND_IN_INSTANT))


def hold_reads(slot, patient):
    """What a new hold of `patient` on the locked `slot` is decided on, in ONE statement
    made once both locks are held (lock_patient_with_live_hold): (their active future
    bookings counted, the `expires_at` of their first recent hold of the slot or None,
    their own active hold or None). The count and their own hold change only under
    the patient's lock, the slot's holds only under the slot's, so the statement's
    snapshot, taken after both were granted, sees them as they are."""
    since = rules.rehold_since()
    (row,) = _HOLD_READS.rows(patient.pk, slot.pk, *_clinic_day_and_time(), since)
    booked, first_expires_at, *own = row
    if own[0] is None:
        return booked or 0, first_expires_at, None
    return booked or 0, first_expires_at, Hold.from_db(connection.alias, OWN_HOLD_COLUMNS, own)
