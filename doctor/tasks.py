"""Celery tasks of the booking journey; harmless twice or on two workers at once
(doctor.services does each slot's work under that slot's lock)."""

from celery import shared_task

from doctor import services


@shared_task
def pass_on_lapsed_holds():
    """Periodic (beat, every 30 s): lapsed holds and waitlist offers pass their slots on."""
    return services.lapsed_holds_pass_on()
