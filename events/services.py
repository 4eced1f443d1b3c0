"""The events outbox and its webhook deliveries.

event_emit() writes the event and one Delivery per interested endpoint in the
caller's transaction, and enqueues delivery only once that commits: a change
that rolls back emits nothing. The database, not the broker, is the record of
what is owed: a worker claims a delivery with a conditional UPDATE (a lease),
so two workers never attempt it at once, and the periodic sweep re-enqueues
what is due or was left by a dead worker. Every task is harmless twice.

This app is generic: an event is a type and ready JSON data, built by the app
whose change it records; nothing here imports that app or DRF.
"""

import http.client
import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks import Webhook

from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint

logger = logging.getLogger(__name__)

GIVE_UP_AFTER = timedelta(hours=24)
MAX_RETRY_DELAY = timedelta(hours=1)
SWEEP_BATCH = 500


def env_endpoint():
    """The endpoint WEBHOOK_URL names, as an admin-visible row: created, or its secret
    brought in step, by the worker's periodic sweep (never inside a booking's
    transaction). An event made before the row exists is not sent to it."""
    if not settings.WEBHOOK_URL:
        return None
    endpoint, _ = WebhookEndpoint.objects.get_or_create(
        url=settings.WEBHOOK_URL, defaults={"secret": settings.WEBHOOK_SECRET}
    )
    if endpoint.secret != settings.WEBHOOK_SECRET:
        # The environment's secret wins, so rotating it there takes effect.
        endpoint.secret = settings.WEBHOOK_SECRET
        endpoint.save(update_fields=["secret"])
    return endpoint


def event_emit(event_type, data):
    """Record an event (`data`: ready JSON) and its deliveries in the caller's transaction."""
    event = Event.objects.create(type=event_type, data=data)
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            event=event, endpoint=endpoint, next_attempt_at=now, give_up_at=now + GIVE_UP_AFTER
        )
        for endpoint in WebhookEndpoint.objects.filter(enabled=True)
        if endpoint.wants(event_type)
    )
    ids = [d.pk for d in deliveries]
    if ids:
        transaction.on_commit(lambda: enqueue(ids))
    return event


def enqueue(delivery_ids):
    """Ask a worker to attempt these deliveries now. Best effort: with the broker
    down the request still succeeds, and the sweep enqueues them later."""
    from events.tasks import deliver

    try:
        for delivery_id in delivery_ids:
            deliver.delay(delivery_id)
    except Exception:
        logger.exception("could not enqueue deliveries %s; the sweep will", delivery_ids)


def retry_delay(attempts):
    """Exponential backoff after `attempts` failed attempts, capped at an hour."""
    first = timedelta(seconds=settings.WEBHOOK_RETRY_SECONDS)
    return min(first * 2 ** (attempts - 1), MAX_RETRY_DELAY)


def claim(delivery_id, now):
    """Take the lease of a due delivery; False when it is not due or another
    worker holds it. One single-table UPDATE, whose WHERE PostgreSQL re-checks
    on the locked row, so two workers can never both win."""
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    won = (
        Delivery.objects.filter(
            Q(leased_until__isnull=True) | Q(leased_until__lte=now),
            pk=delivery_id,
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=now,
            give_up_at__gt=now,
        ).update(leased_until=lease, attempts=F("attempts") + 1)
        == 1
    )
    return Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id) if won else None


def signed_request(delivery, now):
    """The POST of a delivery: Standard Webhooks headers, signed at `now`."""
    event = delivery.event
    body = json.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.data}
    )
    msg_id = str(event.id)
    headers = {
        "content-type": "application/json",
        "user-agent": "QuickMed-Webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(delivery.endpoint.secret).sign(msg_id, now, body),
    }
    return urllib.request.Request(
        delivery.endpoint.url, data=body.encode(), headers=headers, method="POST"
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect is not a delivery: the 3xx is recorded and retried.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(request):
    """(status code, error text) of one HTTP attempt."""
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (OSError, ValueError, http.client.HTTPException) as error:
        return None, f"{type(error).__name__}: {error}"[:1000]


def delivery_attempt(delivery_id):
    """Make one attempt at a delivery if it is due and free; record the outcome and
    return the attempt (None when this call made none)."""
    now = timezone.now()
    delivery = claim(delivery_id, now)
    if delivery is None:
        return None
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery, number=delivery.attempts, started_at=now
    )
    attempt.status_code, attempt.error = post(signed_request(delivery, now))
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["status_code", "error", "finished_at"])
    record_outcome(delivery, attempt)
    return attempt


def record_outcome(delivery, attempt):
    """Delivered on a 2xx; otherwise due again after the backoff, or failed once
    that would fall past 24 hours after the event. Only the lease holder writes."""
    done = attempt.finished_at
    changes = {"leased_until": None}
    if attempt.delivered:
        changes.update(status=Delivery.Status.DELIVERED, delivered_at=done)
    else:
        retry_at = done + retry_delay(delivery.attempts)
        if retry_at >= delivery.give_up_at:
            changes["status"] = Delivery.Status.FAILED
        else:
            changes["next_attempt_at"] = retry_at
    Delivery.objects.filter(pk=delivery.pk, leased_until=delivery.leased_until).update(**changes)


def sweep(now=None):
    """Fail what is past its 24 hours; return the ids of deliveries due now and
    not leased (new, retrying, or left by a worker that died)."""
    env_endpoint()
    now = now or timezone.now()
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    pending = Delivery.objects.filter(free, status=Delivery.Status.PENDING)
    pending.filter(give_up_at__lte=now).update(status=Delivery.Status.FAILED, leased_until=None)
    due = pending.filter(next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("pk", flat=True)[:SWEEP_BATCH])
