"""One unit of work for every write that touches a slot, a hold or a booking.

    with slot_change() as change:
        ...lock, decide, write...
        change.audit("booking.created", slot=slot, booking=booking,
                     changes={...}, event=booking_data(booking))
        change.freed(slot, passed_by=patient)

opens the transaction; before it commits, the unit offers every slot the write
freed (or added) to its waitlist, writes the audit entries (one insert for all)
and the outbox events, the offers' included, in the order they happened; after
the commit it bumps the public lists' cache. A flow never emits, audits or bumps
by hand, so none can forget to; an outbox event is only written through
`audit()`, so no change has its event without its audit entry. A refusal raised
inside rolls all of it back: nothing is offered, audited, emitted or bumped.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.utils import timezone

from audit.actor import current_actor
from audit.models import AuditEntry
from config.prepared import insert_statement, save_new
from doctor import rules
from doctor.locks import UNREAD, live_hold
from doctor.models import Booking, Hold, TimeSlot, WaitlistEntry
from doctor.offers import offer_freed_slot, offer_new_slots
from events.services import event_emit
from idempotency.decorators import in_whole_transaction
from listcache.services import bump_after_commit

_current = ContextVar("slot_change", default=None)


# A slot's fields in its audit entries (slot.created, slot.updated, slot.deleted).
AUDITED_FIELDS = ("doctor_id", "date", "start_time", "end_time", "duration", "is_available")


def slot_fields(slot):
    return {name: getattr(slot, name) for name in AUDITED_FIELDS}


def audit_made(change, slots, action="slot.created"):
    """One entry per new slot. `slot.scheduled` for the slots a schedule or an
    override makes (Change.scheduled)."""
    for slot in slots:
        change.audit(
            action, slot=slot, changes={k: [None, v] for k, v in slot_fields(slot).items()}
        )


def audit_removed(change, slot, *, changes=None, action="slot.deleted"):
    """The entry of a slot deleted (call it before the delete: the row's id goes
    with it), or retired (`changes` say how). `slot.unscheduled` for a slot a
    schedule or an override removes (Change.unscheduled)."""
    if changes is None:
        changes = {k: [v, None] for k, v in slot_fields(slot).items()}
    change.audit(action, slot=slot.pk, changes=changes)


class Change:
    """What one write did, for its unit of work to finish before the commit.

    `actor` is who acts: by default the user of the request being served (none
    for the worker); an entry made for what no request did says `worker=True`."""

    def __init__(self, actor=None):
        self.actor = actor if actor is not None else current_actor()
        self._entries = []
        self._events = []
        self._freed = []
        self._added = []
        self.offered = []  # the waitlist entries offered a slot, once finished

    def audit(
        self, action, *, slot, booking=None, changes=None, event=None, event_type=None, worker=False
    ):
        """An audit entry of `action` on `slot` (and `booking`), `changes` as
        {field: [old, new]}; with `event` (ready JSON), the outbox event of the
        change too, named `event_type` (default: the action)."""
        actor = None if worker else self.actor
        self._entries.append(
            AuditEntry(
                at=timezone.now(),
                action=action,
                actor_id=actor.pk if actor else None,
                actor_role=actor.user_type if actor else "",
                slot_id=getattr(slot, "pk", slot),
                booking_id=booking.pk if booking is not None else None,
                changes=changes or {},
            )
        )
        if event is not None:
            self._events.append((event_type or action, event))

    def freed(self, slot, *, passed_by=None, hold=UNREAD):
        """The locked `slot` may have become bookable: offer it to its waitlist.
        `passed_by`, the patient who gave it up, is not offered it straight back.
        `hold`: its active hold (or None) when the write read it already, under the
        slot's lock and with nothing in this unit changing its holds after (the unit
        finishes with it, not a read of its own); by default the unit reads it."""
        self._freed.append((slot, passed_by, hold))

    def added(self, doctor, slots):
        """The doctor's new slots: offer them to their waitlist."""
        if slots:
            self._added.append((doctor, slots))

    def scheduled(self, doctor, slots, *, refit=()):
        """Slots a weekly schedule or a date override makes (unsaved, source
        `schedule`): one bulk insert, then offered as any new slot. `refit`: its
        kept slots (see unscheduled) that fit again, which lose their mark.
        Every slot the schedules write goes through here or unscheduled()."""
        created = TimeSlot.objects.bulk_create(slots)
        audit_made(self, created, action="slot.scheduled")
        if refit:
            TimeSlot.objects.filter(pk__in=[slot.pk for slot in refit]).update(unscheduled_at=None)
        for slot in created:
            slot.doctor = doctor
        self.added(doctor, created)
        return created

    def unscheduled(self, slots, *, kept=()):
        """Schedule-made `slots` (locked, free: neither booked nor held) that no
        longer fit: removed, retired when they have a history (rules.retires_instead)
        and deleted otherwise, in one statement each. `kept`: booked or held ones
        that no longer fit either; they are marked, and go once freed (_finish)."""
        now = timezone.now()
        if kept:
            marked = [slot.pk for slot in kept if slot.unscheduled_at is None]
            TimeSlot.objects.filter(pk__in=marked).update(unscheduled_at=now)
        ids = [slot.pk for slot in slots]
        if not ids:
            return
        # A lapsed hold (or offer) on a removed slot ends as expired, its entry too.
        lapsed = Hold.objects.filter(slot_id__in=ids, status=Hold.Status.ACTIVE)
        for hold_id, slot_id in lapsed.values_list("pk", "slot_id"):
            expired = [Hold.Status.ACTIVE, Hold.Status.EXPIRED]
            changes = {"hold_id": [hold_id, hold_id], "status": expired}
            self.audit("hold.lapsed", slot=slot_id, changes=changes, worker=True)
        WaitlistEntry.objects.filter(offer__in=lapsed, status=WaitlistEntry.Status.OFFERED).update(
            status=WaitlistEntry.Status.EXPIRED
        )
        lapsed.update(status=Hold.Status.EXPIRED)
        history = set(Booking.objects.filter(slot_id__in=ids).values_list("slot_id", flat=True))
        for slot in slots:
            retired = {"retired_at": [None, now], "is_available": [slot.is_available, False]}
            retired = retired if slot.pk in history else None
            audit_removed(self, slot, changes=retired, action="slot.unscheduled")
        if history:
            TimeSlot.objects.filter(pk__in=history).update(
                retired_at=now, is_available=False, unscheduled_at=now
            )
        doomed = set(ids) - history
        # Their past holds go with them (as slot_delete's cascade does): few rows. Then
        # nothing refers to the slots, and one DELETE removes them all, where the
        # cascade's collector would send one per 100 rows.
        Hold.objects.filter(slot_id__in=doomed).delete()
        TimeSlot.objects.filter(pk__in=doomed)._raw_delete(TimeSlot.objects.db)

    def gone(self, slot, hold=UNREAD):
        """A freed schedule-made slot that no longer fits goes instead of being offered
        (True when it went); the periodic sweep asks this too (schedules.services).
        `hold`: the slot's live hold (live_hold), when known."""
        if slot.unscheduled_at is None:
            return False
        if not rules.gone_unfit(slot, live_hold(slot) if hold is UNREAD else hold):
            return False
        self.unscheduled([slot])
        return True

    def _finish(self):
        self._offer()
        self._record()

    def _offer(self):
        for slot, passed_by, active in self._freed:
            hold = live_hold(slot, active)
            if self.gone(slot, hold):
                continue
            if entry := offer_freed_slot(slot, self, passed_by=passed_by, hold=hold):
                self.offered.append(entry)
        for doctor, slots in self._added:
            self.offered += offer_new_slots(doctor, slots, self)

    def _record(self):
        """The audit entries, then the outbox events. Most writes make one entry: its
        INSERT, compiled once per process, goes in the first event's statement (one
        round trip on PostgreSQL), or alone."""
        audit = insert_statement(self._entries[0]) if len(self._entries) == 1 else None
        if audit is None and self._entries:
            AuditEntry.objects.bulk_create(self._entries)
        elif audit is not None and not self._events:
            save_new(self._entries[0])
        for n, (event_type, data) in enumerate(self._events):
            event_emit(event_type, data, with_insert=audit[:2] if audit and n == 0 else None)


def current_change():
    """The unit of work in progress: small writes made under it (ending a hold)
    add their audit entries to it. Writing outside a unit is a bug."""
    change = _current.get()
    if change is None:
        raise RuntimeError("a slot, hold or booking changes only inside slot_change()")
    return change


@contextmanager
def slot_change(*, actor=None, whole=False):
    """The unit's transaction. `whole=True`, for a write whose callers never catch its
    error and go on (book, cancel, move): in an idempotent view's transaction, which
    fails as a whole too, it takes no savepoint (a SAVEPOINT and a RELEASE fewer per
    write); anywhere else, and by default, a nested unit has its savepoint."""
    with transaction.atomic(savepoint=not (whole and in_whole_transaction())):
        change = Change(actor)
        token = _current.set(change)
        try:
            yield change
            change._finish()
        finally:
            _current.reset(token)
        bump_after_commit()
