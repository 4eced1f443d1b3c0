"""Celery tasks of the idempotency keys."""

from celery import shared_task

from idempotency import services


@shared_task
def purge_expired_keys():
    """Periodic (beat, every IDEMPOTENCY_PURGE_SECONDS): keys past their TTL are deleted,
    in bounded batches; harmless twice."""
    return services.keys_purge()
