"""Celery tasks of the outbox; both are harmless when run twice (the claim in
events.services decides who attempts a delivery)."""

import logging

from celery import shared_task
from django.utils import timezone

from events import services
from events.models import Delivery, DeliveryAttempt

logger = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """This task's attempt did not deliver. Declared in `throws`: Celery logs it
    as "raised expected" (no traceback), acknowledges the message and does not
    retry; the next attempt is the sweep's (next_attempt_at), never Celery's."""


@shared_task(throws=(DeliveryFailed,))
def deliver(delivery_id):
    started = timezone.now()
    services.delivery_attempt(delivery_id)
    attempt = own_failed_attempt(delivery_id, started)
    if attempt is None:
        return
    delivery = attempt.delivery
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


def own_failed_attempt(delivery_id, started):
    """The attempt this task just made, if it did not deliver (no 2xx); None when
    it delivered or when this task made none (not due, done, or another worker's
    lease). Ours is the newest attempt that started after `started` and has
    finished (delivery_attempt returns only once its attempt is recorded); one
    still running belongs to another worker."""
    attempt = (
        DeliveryAttempt.objects.select_related("delivery")
        .filter(delivery_id=delivery_id, started_at__gte=started)
        .order_by("-number")
        .first()
    )
    if attempt is None or attempt.finished_at is None:
        return None
    code = attempt.status_code
    return None if code is not None and 200 <= code < 300 else attempt


@shared_task
def sweep():
    """Periodic (beat): enqueue every delivery that is due and not leased."""
    services.enqueue(services.sweep())
