"""Test settings: the real settings with a throwaway secret and a fast hasher."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-used-anywhere-else")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# No collectstatic before tests: plain storage instead of the hashed manifest.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# ...and whitenoise serves from the apps' static folders directly.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

# Tests publish Celery tasks to a real broker only where they say so
# (tests/test_worker.py), never to the REDIS_URL of the machine running them.
CELERY_BROKER_URL = "memory://localhost/"

# The public lists' cache (listcache/services.py) is on where a test says so
# (tests/test_list_cache.py, with settings.LIST_CACHE = True): elsewhere tests
# write rows with factories, which no service sees, and pin the database's own
# queries per list.
LIST_CACHE = False

# The tests' receivers listen on http://127.0.0.1 (production allows neither);
# tests of the refusals turn these off where they say so.
WEBHOOK_ALLOW_HTTP = True
WEBHOOK_ALLOW_PRIVATE = True
