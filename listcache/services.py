"""The public lists, read once and served to every caller until what they show changes.

The anonymous available list and the doctor list are the same bytes for every
caller between two changes of slots, holds, bookings or doctor profiles. They
are stored rendered, under a version that every such change bumps:

- a reader reads the version BEFORE it queries, and stores what it rendered
  under that version; a reader that queried before a booking committed can
  only store its (stale) bytes under the old version, which nobody reads again
  once the booking's bump is done;
- the bump is done before the writer's reply is sent, so once a booking has
  answered, every later reader misses the old entries.

Where the version lives (docs/design.md, "The shared list cache"):

- with a shared cache (Redis, REDIS_URL): a counter in it, `cache.add` then
  `cache.incr`, bumped in the writer's transaction and again on commit (the
  bump inside makes the writer's own transaction, and a test's, read fresh
  lists; the one after commit is the one the rule rests on);
- with the per-process LocMem cache: one row of the database (ListVersion),
  updated in the writer's transaction, so the bump is visible to every process
  exactly when the change is; each read costs one primary-key lookup.

A cache that fails (Redis unreachable, REDIS_TIMEOUT) is skipped: the list is
built from the database, as without a cache.

It knows nothing of slots or doctors: the slot flows bump through their unit
of work (doctor/unit.py), profile changes (accounts) call bump_after_commit()
directly, and the lists' own views say what a list is and when it goes stale.
"""

import logging
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from listcache.models import ListVersion

logger = logging.getLogger(__name__)

# What an unreachable, hung or failing Redis raises through Django's cache.
CACHE_ERRORS = (RedisError, OSError)
VERSION_KEY = "lists:version"


def _cache():
    return caches["default"]


def _shared():
    """Whether the cache is shared between processes (any backend but LocMem)."""
    return not isinstance(_cache(), LocMemCache)


def bump_after_commit():
    """Call after the writes of any change to slots, holds, bookings or what a doctor
    card shows, inside its transaction (the slot flows' unit of work does, and
    accounts): every later read of a public list, from any process, misses what
    was stored before the change."""
    if not settings.LIST_CACHE:
        return
    if _shared():
        _incr()
        transaction.on_commit(_incr)
    elif not _bump_row():
        ListVersion.objects.get_or_create(pk=1)


def _bump_row():
    """ListVersion.objects.filter(pk=1).update(value=F("value") + 1), as a plain
    statement: building the ORM update costs a booking more CPU than running it."""
    table = connection.ops.quote_name(ListVersion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE {table} SET "value" = "value" + 1 WHERE "id" = 1')
        return cursor.rowcount


def _incr():
    cache = _cache()
    try:
        # A counter that went missing (a Redis restart, an eviction) starts again
        # from the clock, above every version used before it: never an old entry's.
        cache.add(VERSION_KEY, time.time_ns() // 1000, None)
        cache.incr(VERSION_KEY)
    except CACHE_ERRORS:
        logger.warning("list cache unreachable; version not bumped")


def current_version():
    if not _shared():
        return ListVersion.objects.filter(pk=1).values_list("value", flat=True).first() or 0
    version = _cache().get(VERSION_KEY)
    if version is None:
        _incr()
        version = _cache().get(VERSION_KEY)
    return version


def cached(name, build):
    """`build()`'s (content, headers, expires_at) for the list `name`, built at most
    once per version (and again once `expires_at`, a timestamp on the application's
    clock, timezone.now(), has passed).
    An entry that is stale as it is built (expires_at now or past) is not kept."""
    cache = _cache()
    try:
        key = f"lists:{name}:{current_version()}"
        entry = cache.get(key)
    except CACHE_ERRORS:
        logger.warning("list cache unreachable; %s read from the database", name)
        return build()
    now = timezone.now().timestamp()
    if entry is not None and (entry[2] is None or now < entry[2]):
        return entry
    entry = build()
    if entry[2] is not None and entry[2] <= now:
        return entry
    try:
        cache.set(key, entry, settings.LIST_CACHE_SECONDS)
    except CACHE_ERRORS:
        logger.warning("list cache unreachable; %s not stored", name)
    return entry
