"""The events outbox and its webhook deliveries.

event_emit() writes the event and one Delivery per interested endpoint in the
caller's transaction (in one statement on PostgreSQL), and enqueues delivery
only once that commits: a change that rolls back emits nothing. The database,
not the broker, is the record of what is owed: a worker claims a delivery
with a conditional UPDATE (a lease), so two workers never attempt it at once,
and the periodic sweep re-enqueues what is due or was left by a dead worker.
Every task is harmless twice.

This app is generic: an event is a type and ready JSON data, built by the app
whose change it records; nothing here imports that app or DRF.
"""

import json
import logging
import urllib.request
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks import Webhook

from config.prepared import db, insert_statement
from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from events.transport import post

logger = logging.getLogger(__name__)

GIVE_UP_AFTER = timedelta(hours=24)
MAX_RETRY_DELAY = timedelta(hours=1)
SWEEP_BATCH = 500


def env_endpoint():
    """The endpoint WEBHOOK_URL names, as an admin-visible row marked
    `from_environment`: created, or brought in step, by the worker when it starts
    and at every sweep (never inside a booking's transaction). An event made
    before the row exists is not sent to it. The environment's endpoint follows
    the environment: a row it made for a URL no longer (or no longer ever) set is
    disabled and becomes an ordinary row, so the old URL gets nothing more."""
    url = settings.WEBHOOK_URL
    WebhookEndpoint.objects.filter(from_environment=True).exclude(url=url).update(
        from_environment=False, enabled=False
    )
    if not url:
        return None
    endpoint, created = WebhookEndpoint.objects.get_or_create(
        url=url, defaults={"secret": settings.WEBHOOK_SECRET, "from_environment": True}
    )
    if not created and not endpoint.from_environment:
        # A row of the same URL (staff's, or an old environment's): the
        # environment takes it over, enabled. Once it is the environment's,
        # staff may disable it and it stays so.
        endpoint.from_environment, endpoint.enabled = True, True
        endpoint.save(update_fields=["from_environment", "enabled"])
    if endpoint.secret != settings.WEBHOOK_SECRET:
        # The environment's secret wins, so rotating it there takes effect.
        endpoint.secret = settings.WEBHOOK_SECRET
        endpoint.save(update_fields=["secret"])
    return endpoint


def event_emit(event_type, data, *, with_insert=None):
    """Record an event (`data`: ready JSON) and its deliveries in the caller's transaction.
    `with_insert`: the caller's own INSERT (sql, params) of the same change, sent in
    the same statement where the database allows it (the unit's audit entry)."""
    event = Event(type=event_type, data=data)
    sql, params = emit_sql(event, timezone.now(), with_insert)
    with connection.cursor() as cursor:
        for statement, values in zip(sql, params, strict=True):
            cursor.execute(statement, values)  # the deliveries' last: their ids
        ids = [row[0] for row in cursor.fetchall()]
    event._state.adding, event._state.db = False, connection.alias
    if ids:
        transaction.on_commit(lambda: enqueue(ids))
    return event


def emit_sql(event, now, with_insert=None):
    """The statements of event_emit: ([sql], [params]). On PostgreSQL ONE statement:
    `with_insert` and the event's INSERT (compiled once per process) in a writable
    WITH before the deliveries' INSERT ... SELECT, so the outbox costs a write one
    round trip; on SQLite, which has no writable WITH, the same INSERTs one after
    the other. (The deliveries' foreign key to the event is checked at commit, as
    Django makes it on PostgreSQL: DEFERRABLE INITIALLY DEFERRED.)"""
    sql, params = deliveries_sql(event.pk, event.type, now)
    event_sql, event_params, _ = insert_statement(event)  # the event's id is set: uuid4
    inserts = [*([with_insert] if with_insert else []), (event_sql, event_params)]
    if connection.vendor == "postgresql":
        ctes = ", ".join(f'"w{n}" AS ({insert})' for n, (insert, _) in enumerate(inserts))
        values = [value for _, insert_params in inserts for value in insert_params]
        return [f"WITH {ctes} {sql}"], [[*values, *params]]
    return [*(insert for insert, _ in inserts), sql], [*(v for _, v in inserts), params]


# The endpoints that want an event type (WebhookEndpoint.wants, in SQL): enabled,
# and their event_types empty or naming it.
WANTS_SQL = {
    "postgresql": "(jsonb_typeof({col}) <> 'array' OR jsonb_array_length({col}) = 0"
    " OR {col} @> jsonb_build_array(%s::text))",
    "sqlite": "(json_type({col}) <> 'array' OR json_array_length({col}) = 0"
    " OR EXISTS (SELECT 1 FROM json_each({col}) WHERE json_each.value = %s))",
}


# The columns deliveries_sql gives a new delivery, beside its endpoint's id.
DELIVERY_VALUES = ("event_id", "status", "attempts", "next_attempt_at", "give_up_at")


def deliveries_sql(event_id, event_type, now):
    """(sql, params) of the event's deliveries: one per endpoint that wants it, in ONE
    statement (INSERT ... SELECT from the enabled endpoints), not a read of the
    endpoints then an insert. The ids made are returned."""
    values = (event_id, Delivery.Status.PENDING, 0, now, now + GIVE_UP_AFTER)
    conn = db()  # not the proxy: read once, not per value
    fields = _delivery_fields()
    params = [
        fields[name].get_db_prep_save(value, conn)
        for name, value in zip(DELIVERY_VALUES, values, strict=True)
    ]
    return _deliveries_text(conn.vendor), [*params, event_type]


@cache
def _delivery_fields():
    return {f.attname: f for f in Delivery._meta.concrete_fields}


@cache
def _deliveries_text(vendor):
    """deliveries_sql's SQL, the same for every event: built once per vendor."""
    columns = ", ".join(f'"{name}"' for name in DELIVERY_VALUES)
    endpoints = WebhookEndpoint._meta.db_table
    wants = WANTS_SQL[vendor].format(col=f'"{endpoints}"."event_types"')
    return (
        f'INSERT INTO "{Delivery._meta.db_table}" ("endpoint_id", {columns})'
        f' SELECT "{endpoints}"."id", {", ".join(["%s"] * len(DELIVERY_VALUES))}'
        f' FROM "{endpoints}" WHERE "{endpoints}"."enabled" AND {wants}'
        f' ORDER BY "{endpoints}"."id" RETURNING "id"'
    )


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


def enabled_endpoints():
    return WebhookEndpoint.objects.filter(enabled=True).values("pk")


def claim(delivery_id, now):
    """Take the lease of a due delivery of an enabled endpoint; None when it is
    not due, its endpoint is disabled or another worker holds it. One UPDATE of
    the delivery table, whose WHERE PostgreSQL re-checks on the locked row, so
    two workers can never both win. (The endpoint is asked with `endpoint_id IN
    (SELECT ... enabled)`, not a join: with a join Django would select the
    deliveries' ids in a subquery, which that re-check does not cover.)"""
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    won = (
        Delivery.objects.filter(
            Q(leased_until__isnull=True) | Q(leased_until__lte=now),
            pk=delivery_id,
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=now,
            give_up_at__gt=now,
            endpoint_id__in=enabled_endpoints(),
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
    """Fail what is past its 24 hours or for a disabled endpoint; return the ids
    of deliveries due now and not leased (new, retrying, or left by a worker
    that died)."""
    env_endpoint()
    now = now or timezone.now()
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    pending = Delivery.objects.filter(free, status=Delivery.Status.PENDING)
    given_up = Q(give_up_at__lte=now) | ~Q(endpoint_id__in=enabled_endpoints())
    pending.filter(given_up).update(status=Delivery.Status.FAILED, leased_until=None)
    due = pending.filter(next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("pk", flat=True)[:SWEEP_BATCH])
