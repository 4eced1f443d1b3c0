"""Check the booking invariants on the configured database, for operators and CI.

Exit status 0 and one "OK ..." line when they hold; otherwise one line per
violation on stderr and exit status 1. Read-only: it never repairs anything.
"""

from django.core.management.base import BaseCommand, CommandError

from doctor import invariants
from doctor.models import Booking, TimeSlot


class Command(BaseCommand):
    help = "Check that no slot is double-booked and every slot's flags match its bookings."

    def handle(self, *args, **options):
        found = invariants.violations()
        if found:
            for violation in found:
                self.stderr.write(f"VIOLATION {violation}")
            raise CommandError(f"{len(found)} booking invariant violation(s)")
        slots = TimeSlot.objects.count()
        active = Booking.objects.filter(status=Booking.Status.BOOKED).count()
        self.stdout.write(
            f"OK {slots} slots, {active} active bookings: " + "; ".join(invariants.CHECKS)
        )
