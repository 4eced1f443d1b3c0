"""Celery tasks of the outbox; both are harmless when run twice (the claim in
events.services decides who attempts a delivery)."""

from celery import shared_task

from events import services


@shared_task
def deliver(delivery_id):
    services.delivery_attempt(delivery_id)


@shared_task
def sweep():
    """Periodic (beat): enqueue every delivery that is due and not leased."""
    services.enqueue(services.sweep())
