"""The slot and booking actions, by the name the rest of the code imports them.

Where each lives (docs/design.md, "The map of the code"):

- doctor/rules.py: every rule, as a refusal function beside its query twin;
- doctor/clock.py: the clinic's clock;
- doctor/locks.py: row locks and the small writes made under them;
- doctor/unit.py: the unit of work every write runs in (waitlist offers and
  outbox events before the commit, the list cache bump after it);
- the flows: doctor/slots.py, bookings.py, holds.py, offers.py, waitlist.py, visits.py.

The flows raise the domain's refusals (config.errors), never HTTP:
config.exceptions answers them in the contract's shape, the admin shows the
same texts as form errors or messages.
"""

from doctor.bookings import booking_cancel, booking_reschedule, slot_book
from doctor.holds import hold_place, hold_release, lapsed_holds_pass_on
from doctor.rules import MAX_DAYS_AHEAD, retires_instead, slot_change_refusal
from doctor.slots import (
    slot_check,
    slot_create,
    slot_delete,
    slot_toggle,
    slot_update,
    slots_bulk_create,
)
from doctor.visits import booking_outcome, review_create, review_delete
from doctor.waitlist import waitlist_expire_passed, waitlist_join, waitlist_leave

__all__ = [
    "MAX_DAYS_AHEAD",
    "booking_cancel",
    "booking_outcome",
    "booking_reschedule",
    "hold_place",
    "hold_release",
    "lapsed_holds_pass_on",
    "review_create",
    "retires_instead",
    "review_delete",
    "slot_book",
    "slot_change_refusal",
    "slot_check",
    "slot_create",
    "slot_delete",
    "slot_toggle",
    "slot_update",
    "slots_bulk_create",
    "waitlist_expire_passed",
    "waitlist_join",
    "waitlist_leave",
]
