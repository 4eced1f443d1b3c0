"""Celery tasks of the booking journey; harmless twice or on two workers at once
(doctor.services does each slot's work under that slot's lock)."""

from celery import shared_task

from doctor import services


@shared_task
def pass_on_lapsed_holds():
    """Periodic (beat, every 30 s): lapsed holds and waitlist offers pass their slots
    on, and waiting entries whose range has passed are written down as expired.
    Returns the number of slots offered."""
    services.waitlist_expire_passed()
    return services.lapsed_holds_pass_on()
