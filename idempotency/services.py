"""Claiming, answering and releasing `Idempotency-Key`s (the Stripe pattern).

A key is claimed with one insert that a unique constraint guards, in its own
committed transaction, so a second request with the key sees the claim at once.
The reply is stored by `key_answer` inside the transaction of the write it
describes: both commit, or neither does.
"""

from contextlib import nullcontext
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.errors import DomainError
from config.prepared import create, db
from idempotency.models import IdempotencyKey

# A first request that has held its key this long without answering is taken
# to have died (its transaction rolled back), and the key is free again.
IN_FLIGHT_SECONDS = 60


class KeyReused(DomainError):
    """The key came first with another method, path or body."""


class KeyInProgress(DomainError):
    """The first request with the key has not answered yet."""


def key_claim(*, user, key, fingerprint):
    """The caller's record for `key`: freshly claimed (status_code None), or answered."""
    now = timezone.now()
    for _ in range(3):  # the row may be released between our insert and our read
        try:
            with _own_statement():
                return create(  # the ORM's INSERT, compiled once per process
                    IdempotencyKey,
                    user=user,
                    key=key,
                    fingerprint=fingerprint,
                    created_at=now,
                    locked_at=now,
                )
        except IntegrityError:
            pass
        with transaction.atomic():
            record = IdempotencyKey.objects.select_for_update().filter(user=user, key=key).first()
            if record is not None:
                return _reclaim(record, fingerprint, now)
    raise KeyInProgress


def _own_statement():
    """The claim's insert committed on its own: outside any transaction (a request)
    a single statement in autocommit is one, with no BEGIN and COMMIT to send;
    inside one (a caller's, a test's), a savepoint, so a refused insert leaves it usable."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def _reclaim(record, fingerprint, now):
    """Decide on a key that is already there (its row is locked by the caller)."""
    if record.created_at <= now - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS):
        # Kept long enough: the key starts afresh, whatever it was bound to.
        record.fingerprint, record.created_at = fingerprint, now
        record.status_code = record.body = None
    elif record.fingerprint != fingerprint:
        raise KeyReused
    elif record.status_code is not None:
        return record
    elif record.locked_at > now - timedelta(seconds=IN_FLIGHT_SECONDS):
        raise KeyInProgress
    record.locked_at = now
    record.save()
    return record


def key_answer(record, *, status_code, body):
    """Store the reply; call inside the transaction of the write it describes.

    False when the claim was lost meanwhile (this request was taken for dead and
    another took the key over): the caller must then roll its write back.
    """
    # The ORM's filter().update(), as one plain statement: building it cost a
    # booking more CPU than running it.
    fields = {f.attname: f for f in IdempotencyKey._meta.concrete_fields}
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    sql = (
        f'UPDATE {table} SET "status_code" = %s, "body" = %s, "locked_at" = NULL'
        ' WHERE "id" = %s AND "locked_at" = %s AND "status_code" IS NULL'
    )
    conn = db()  # not the proxy: read once, not per value
    params = [
        fields[name].get_db_prep_save(value, conn)
        for name, value in (
            ("status_code", status_code),
            ("body", body),
            ("id", record.pk),
            ("locked_at", record.locked_at),
        )
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount > 0


def key_release(record):
    """Free a claimed key whose request ended in a reply that is not kept."""
    IdempotencyKey.objects.filter(
        pk=record.pk, locked_at=record.locked_at, status_code=None
    ).delete()


# The purge deletes this many rows per statement, and at most PURGE_BATCHES
# statements per run: a backlog is worked off over the next runs, never in one
# long transaction that locks a large part of the table.
PURGE_BATCH = 1000
PURGE_BATCHES = 100


def _expired(now):
    """Keys past IDEMPOTENCY_TTL_SECONDS, the ones `_reclaim` would start afresh,
    but for a claim a live request holds (one taken over from a dead request
    keeps its old created_at)."""
    return IdempotencyKey.objects.filter(
        created_at__lte=now - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
    ).exclude(locked_at__gt=now - timedelta(seconds=IN_FLIGHT_SECONDS))


def keys_purge(*, batch=PURGE_BATCH, batches=PURGE_BATCHES):
    """Delete expired keys, oldest first, `batch` rows per statement; how many went.

    Harmless twice or on two workers at once: a row deleted by the other run is
    simply not deleted again, and each statement re-checks expiry.
    """
    now = timezone.now()
    deleted = 0
    for _ in range(batches):
        ids = list(_expired(now).order_by("created_at").values_list("pk", flat=True)[:batch])
        if ids:
            deleted += _expired(now).filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            break
    return deleted
