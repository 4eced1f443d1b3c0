"""Celery tasks of the outbox; both are harmless when run twice (the claim in
events.services decides who attempts a delivery)."""

import logging

from celery import shared_task
from celery.signals import worker_ready

from events import services
from events.models import Delivery

logger = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """This task's attempt did not deliver. Declared in `throws`: Celery logs it
    as "raised expected" (no traceback), acknowledges the message and does not
    retry; the next attempt is the sweep's (next_attempt_at), never Celery's."""


@shared_task(throws=(DeliveryFailed,))
def deliver(delivery_id):
    attempt = services.delivery_attempt(delivery_id)
    if attempt is None or attempt.delivered:
        return  # delivered, or not this task's to attempt (not due, done, leased)
    delivery = Delivery.objects.get(pk=delivery_id)
    then = (
        "given up"
        if delivery.status == Delivery.Status.FAILED
        else f"next attempt at {delivery.next_attempt_at.isoformat()}"
    )
    logger.warning(
        "webhook delivery %s attempt %s failed: %s; %s",
        delivery_id,
        attempt.number,
        attempt.outcome,
        then,
    )
    raise DeliveryFailed(f"delivery {delivery_id} attempt {attempt.number}: {attempt.outcome}")


@shared_task
def sweep():
    """Periodic (beat): bring WEBHOOK_URL's endpoint in step, then enqueue every
    delivery that is due and not leased."""
    services.enqueue(services.sweep())


@worker_ready.connect
def endpoint_at_start(**_):
    """A new worker brings WEBHOOK_URL's endpoint row in step before any sweep runs."""
    services.env_endpoint()
