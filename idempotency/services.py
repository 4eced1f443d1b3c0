"""Claiming, answering and releasing `Idempotency-Key`s (the Stripe pattern).

A key is claimed with one insert that a unique constraint guards, in its own
committed transaction, so a second request with the key sees the claim at once.
The reply is stored by `key_answer` inside the transaction of the write it
describes: both commit, or neither does.
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import DomainError
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
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user, key=key, fingerprint=fingerprint, created_at=now, locked_at=now
                )
        except IntegrityError:
            pass
        with transaction.atomic():
            record = IdempotencyKey.objects.select_for_update().filter(user=user, key=key).first()
            if record is not None:
                return _reclaim(record, fingerprint, now)
    raise KeyInProgress


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
    return bool(
        IdempotencyKey.objects.filter(
            pk=record.pk, locked_at=record.locked_at, status_code=None
        ).update(status_code=status_code, body=body, locked_at=None)
    )


def key_release(record):
    """Free a claimed key whose request ended in a reply that is not kept."""
    IdempotencyKey.objects.filter(
        pk=record.pk, locked_at=record.locked_at, status_code=None
    ).delete()
