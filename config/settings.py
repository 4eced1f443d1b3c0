"""QuickMed Slots settings: everything that differs between machines comes from
the environment (or a `.env` file), see the Configuration table in README.md."""

from datetime import timedelta
from pathlib import Path

import environ
from corsheaders.defaults import default_headers as default_cors_headers
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # A production deploy without a secret must fail at start, not run
        # with a key that is public in this repository.
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(or DEBUG=1 for local development)."
        )
    SECRET_KEY = "insecure-local-development-key-only-used-with-DEBUG-on"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "axes",
    "listcache",
    "accounts",
    "doctor",
    "idempotency",
    "calendars",
    "events",
    "notifications",
    "audit",
    "desk",
    "schedules",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Keeps the request so the audit trail knows who acts (audit/actor.py).
    "audit.actor.RequestActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns an admin lockout into its 429 page (config/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's engine, whose flush may empty the append-only audit table (audit/triggers.py).
    DATABASES["default"]["ENGINE"] = "audit.backends.sqlite3"
    # IMMEDIATE takes SQLite's write lock when a transaction starts, so two
    # bookings on the embedded database are serialized instead of failing with
    # "database is locked" halfway through (SQLite ignores select_for_update).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# How DATABASE_URL reaches PostgreSQL: "session" (directly, or a pooler in session
# mode: a connection is the process's for as long as it is open) or "transaction"
# (PgBouncer's pool_mode=transaction: each transaction may run on another server
# connection, so nothing may outlive a transaction; docs/deployment.md, "PgBouncer").
DATABASE_POOL_MODE = env.str("DATABASE_POOL_MODE", default="") or "session"
if DATABASE_POOL_MODE not in ("session", "transaction"):
    raise ImproperlyConfigured(
        f"DATABASE_POOL_MODE={DATABASE_POOL_MODE!r} is not a pool mode: use 'session' "
        "(the default: PostgreSQL directly) or 'transaction' (PgBouncer's transaction pooling)."
    )
if DATABASE_POOL_MODE == "transaction":
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_POOL_MODE=transaction needs a PostgreSQL DATABASE_URL."
        )
    DATABASES["default"].update(
        # A named cursor (.iterator() on PostgreSQL) lives outside the transaction
        # that declared it only with its server connection: off, rows come at once.
        DISABLE_SERVER_SIDE_CURSORS=True,
        # Connect to PgBouncer per request: it keeps the server connections, and a
        # process holding a client slot idle would only hold PgBouncer's fd.
        CONN_MAX_AGE=0,
        # Nothing is reused, so nothing to check (PgBouncer checks its servers).
        CONN_HEALTH_CHECKS=False,
    )
    # psycopg 3 prepares a statement on its 5th execution; a prepared statement
    # lives on one server connection, which the next transaction may not get.
    # (Django's default is already None; a `?prepare_threshold=` in the URL would not be.)
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
    # Django's assume_role is a session-level SET ROLE on connecting: under
    # transaction pooling it would stay on a server connection other clients get.
    if DATABASES["default"]["OPTIONS"].get("assume_role"):
        raise ImproperlyConfigured(
            "DATABASE_POOL_MODE=transaction cannot use assume_role (a session's SET ROLE): "
            "connect as the role itself."
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# How long a patient's hold on a slot lasts while they pay.
HOLD_SECONDS = env.int("HOLD_SECONDS", default=300)
# How long a waitlist offer (a hold made for the oldest waiting patient) lasts.
OFFER_SECONDS = env.int("OFFER_SECONDS", default=900)
# How long a client's Idempotency-Key and its stored reply are kept; the worker
# deletes keys past it every IDEMPOTENCY_PURGE_SECONDS (idempotency.tasks).
IDEMPOTENCY_TTL_SECONDS = env.int("IDEMPOTENCY_TTL_SECONDS", default=86400)
IDEMPOTENCY_PURGE_SECONDS = env.float("IDEMPOTENCY_PURGE_SECONDS", default=3600.0)
AUTH_USER_MODEL = "accounts.UserProfile"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# The right-hand side of every calendar event's UID. Calendar apps match updates
# to events by UID: changing this duplicates every event in every subscriber's app.
CALENDAR_UID_DOMAIN = "quickmed-slots"

# Bounds against flooding: a doctor's open (unbooked, upcoming) slots at most.
MAX_OPEN_SLOTS_PER_DOCTOR = env.int("MAX_OPEN_SLOTS_PER_DOCTOR", default=2000)
# The unpaged public slot list stops at this many (the soonest), with
# `X-Truncated: true` and a Link to the next cursor page.
MAX_UNPAGED_SLOTS = env.int("MAX_UNPAGED_SLOTS", default=5000)
# The public lists are kept rendered (listcache/services.py) until a change bumps
# their version; this bounds how long an entry can outlive a lost bump.
LIST_CACHE = env.bool("LIST_CACHE", default=True)
LIST_CACHE_SECONDS = env.int("LIST_CACHE_SECONDS", default=300)
# The site's public origin (https://api.example.com): the cached lists are kept
# once for it, whatever Host a request names, and a truncated list's Link names
# it. Unset, a list whose Link would name the Host it was asked on is not kept.
SITE_URL = env.str("SITE_URL", default="")

# Clinic policy: a new doctor's cancellation notice (each doctor may change theirs),
# and a patient's active future bookings at most (against hoarding slots).
CANCEL_NOTICE_MINUTES = env.int("CANCEL_NOTICE_MINUTES", default=0)
MAX_ACTIVE_BOOKINGS = env.int("MAX_ACTIVE_BOOKINGS", default=10)

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# whitenoise serves the admin's and the API docs' assets from gunicorn itself:
# compressed, with hashed names that browsers may cache forever.
#
# "default" holds the profile photos (accounts/photos.py): the local filesystem at
# MEDIA_ROOT unless MEDIA_STORAGE names another Django storage backend (for object
# storage, e.g. django-storages' "storages.backends.s3.S3Storage", installed by the
# deployment) with MEDIA_STORAGE_OPTIONS as its JSON options. Several hosts must
# share it: one volume mounted at MEDIA_ROOT on each, or the object storage.
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {
        "BACKEND": env.str("MEDIA_STORAGE", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("MEDIA_STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Throttle counters live in the cache: Redis when REDIS_URL is set, so limits
# hold across processes and hosts; otherwise each process counts on its own.
REDIS_URL = env.str("REDIS_URL", default="")
# A Redis that accepts connections but never answers must cost a request a
# fraction of a second, not the OS's TCP timeouts: throttles then fail open and
# health reports the cache down (see docs/deployment.md).
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=0.3)
REDIS_OPTIONS = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "quickmed",
            "OPTIONS": REDIS_OPTIONS,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Background work (events/, notifications/): Celery with the Redis broker.
# Without CELERY_BROKER_URL or REDIS_URL the broker is in-process memory, so
# `make run` and `make test` need neither Redis nor a worker: events then wait
# in the outbox until a worker's periodic sweep finds them.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
# The queue's name, and the prefix of every broker key: two deployments (or
# test runs) with different names can share one Redis without meeting.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="quickmed")
# Webhook deliveries have a queue of their own, `<CELERY_QUEUE>.webhooks`, so a
# slow receiver holds only the workers that consume it, never the periodic tasks
# (the sweep, reminders, the waitlist's pass-on) on CELERY_QUEUE. A worker started
# without -Q consumes both; deployment.md shows the two-worker shape.
CELERY_WEBHOOK_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.webhooks"
CELERY_TASK_QUEUES = [Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(CELERY_WEBHOOK_QUEUE)]
CELERY_TASK_ROUTES = {"events.tasks.deliver": {"queue": CELERY_WEBHOOK_QUEUE}}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": f"{CELERY_TASK_DEFAULT_QUEUE}:",
    "socket_connect_timeout": 2,
}
# A booking enqueues its deliveries after commit: with the broker unreachable
# that costs the request a few seconds at most, then the sweep takes over.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_max": 0.2}
# A task is acknowledged only after it ran, and re-queued when its worker
# process dies; every task is harmless twice (see events.services).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A task that raises (a failed webhook attempt: events.tasks.DeliveryFailed) is
# acknowledged, never re-queued: the next attempt is the sweep's, after backoff.
CELERY_TASK_ACKS_ON_FAILURE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "events-sweep": {
        "task": "events.tasks.sweep",
        "schedule": env.float("EVENTS_SWEEP_SECONDS", default=15.0),
    },
    "reminders": {
        "task": "notifications.tasks.send_reminders",
        "schedule": env.float("REMINDERS_SWEEP_SECONDS", default=60.0),
    },
    # Lapsed holds and waitlist offers pass their slots on "within a minute".
    "waitlist-pass-on": {
        "task": "doctor.tasks.pass_on_lapsed_holds",
        "schedule": env.float("WAITLIST_SWEEP_SECONDS", default=30.0),
    },
    # The weekly schedules' horizon rolls once a day: each run after the clinic's
    # midnight makes the day that entered it (schedules/services.py roll).
    "schedule-roll": {
        "task": "schedules.tasks.roll_horizons",
        "schedule": env.float("SCHEDULE_ROLL_SECONDS", default=3600.0),
    },
    # A schedule slot kept for its patient and then let go by a lapsed hold goes
    # "within a minute".
    "schedule-unfit-sweep": {
        "task": "schedules.tasks.sweep_unfit_slots",
        "schedule": env.float("WAITLIST_SWEEP_SECONDS", default=30.0),
    },
    # Idempotency-Keys past IDEMPOTENCY_TTL_SECONDS, deleted in bounded batches.
    "idempotency-purge": {
        "task": "idempotency.tasks.purge_expired_keys",
        "schedule": IDEMPOTENCY_PURGE_SECONDS,
    },
}

# Webhooks (Standard Webhooks): WEBHOOK_URL + WEBHOOK_SECRET add one endpoint
# for all events; staff add more in the admin.
WEBHOOK_URL = env.str("WEBHOOK_URL", default="")
WEBHOOK_SECRET = env.str("WEBHOOK_SECRET", default="")
if WEBHOOK_URL and not WEBHOOK_SECRET.startswith("whsec_"):
    raise ImproperlyConfigured("WEBHOOK_URL needs WEBHOOK_SECRET (whsec_...).")
# The whole of one attempt: name lookup, connect, TLS, sending the request and
# receiving the reply's status line and headers (events/transport.py).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# How long a worker owns a delivery it is attempting; longer than the HTTP
# timeout, so that no second worker starts on it while the first still waits.
WEBHOOK_LEASE_SECONDS = env.float("WEBHOOK_LEASE_SECONDS", default=60.0)
if WEBHOOK_LEASE_SECONDS <= WEBHOOK_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("WEBHOOK_LEASE_SECONDS must exceed WEBHOOK_TIMEOUT_SECONDS.")
# Where webhooks may go: https URLs whose host resolves to public addresses only
# (checked when an endpoint is saved and again at each attempt, on the addresses
# then connected to). For local development and tests only: http
# (WEBHOOK_ALLOW_HTTP) and loopback or private addresses (WEBHOOK_ALLOW_PRIVATE).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# The first retry after this many seconds, then doubling up to an hour, for
# 24 hours after the event.
WEBHOOK_RETRY_SECONDS = env.float("WEBHOOK_RETRY_SECONDS", default=30.0)

# Reminder emails, through Django's email backend (console unless EMAIL_URL).
REMINDER_HOURS = env.float("REMINDER_HOURS", default=24.0)
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# A reminder is sent while its booking row is locked: never wait long on SMTP.
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="QuickMed Slots <no-reply@localhost>")

# Brute-force lockout for /admin/login/ (django-axes, config/lockout.py): after
# ADMIN_LOGIN_FAILURE_LIMIT failures for one account from one address, that pair
# is refused (429) for ADMIN_LOCKOUT_MINUTES, counted in the cache above (shared
# with Redis). Staff unlock early with `manage.py axes_reset_ip_username IP EMAIL`
# (docs/deployment.md). The API's logins are not counted: they have their throttle.
AUTHENTICATION_BACKENDS = [
    "config.lockout.AdminLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "config.lockout.AdminLockoutHandler"
AXES_ONLY_ADMIN_SITE = True
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"  # the admin login form's field
AXES_USERNAME_CALLABLE = "config.lockout.admin_username"
AXES_CLIENT_IP_CALLABLE = "config.lockout.client_ip"
AXES_RESET_ON_SUCCESS = True
# Log the locked-out email and address (never the password): unlocking needs both.
AXES_SENSITIVE_PARAMETERS = []
AXES_VERBOSE = False  # no banner on every manage.py command
# The cache handler keeps no AccessAttempt rows: no empty axes pages in the admin.
AXES_ENABLE_ADMIN = False

# Deployments behind TLS (see docs/deployment.md); all off by default so that a
# plain-HTTP local run keeps working.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    # Only behind a proxy that sets X-Forwarded-Proto itself and strips the client's.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# CORS: only the listed origins, never allow-all.
CORS_ALLOWED_ORIGINS = env.list(
    "CORS_ALLOWED_ORIGINS",
    default=["http://localhost:3000", "http://127.0.0.1:3000"],
)
# A browser client may send an Idempotency-Key, and read the headers the API
# answers with: when to retry, whether a reply was replayed, the feed's ETag.
CORS_ALLOW_HEADERS = (*default_cors_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Retry-After", "Idempotent-Replayed", "ETag", "Link", "X-Truncated"]

# A local `make run` (DEBUG on) gets a login budget that the docs' examples
# cannot exhaust; production keeps 10/min. An explicit THROTTLE_RATE_LOGIN wins.
LOGIN_RATE = env.str("THROTTLE_RATE_LOGIN", default="100/min" if DEBUG else "10/min")

_renderers = ["rest_framework.renderers.JSONRenderer"]
if DEBUG:
    _renderers.append("rest_framework.renderers.BrowsableAPIRenderer")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": _renderers,
    "DEFAULT_PARSER_CLASSES": ["config.parsers.SafeJSONParser"],
    "COERCE_DECIMAL_TO_STRING": False,
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        # Per client IP for login and signup, per user for booking and profile updates.
        "login": LOGIN_RATE,
        "signup": env.str("THROTTLE_RATE_SIGNUP", default="20/hour"),
        "booking": env.str("THROTTLE_RATE_BOOKING", default="30/min"),
        "profile": env.str("THROTTLE_RATE_PROFILE", default="30/min"),
        # Per doctor, single and bulk slot creation together.
        "slots": env.str("THROTTLE_RATE_SLOTS", default="60/min"),
        # Per user: every endpoint that accepts an Idempotency-Key is throttled,
        # so none can store keys without bound (the others spend booking or slots).
        "cancel": env.str("THROTTLE_RATE_CANCEL", default="30/min"),
        "waitlist": env.str("THROTTLE_RATE_WAITLIST", default="30/min"),
        # Per desk user: its patient searches, walk-ins, bookings and reschedules.
        "desk": env.str("THROTTLE_RATE_DESK", default="120/min"),
    },
    # How many proxies in front of the app append to X-Forwarded-For; 0 trusts
    # none, so a client cannot dodge the per-IP limits with a forged header.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "QuickMed Slots API",
    "DESCRIPTION": (
        "Doctors publish appointment slots; patients find and book them. "
        "Authenticate with `Authorization: Bearer <access token>` from /api/login/."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Two `status` choice sets: a booking's, and the outcome a doctor records.
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "doctor.models.Booking.Status",
        "VisitOutcomeEnum": ["completed", "no_show"],
        "WaitlistStatusEnum": "doctor.models.WaitlistEntry.Status",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Bookings and waitlist entries both have a `status`; each its own enum name.
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=30),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Each refresh hands out a new refresh token and blacklists the old one, so
    # a stolen refresh token works at most once; logout blacklists it at once.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # A refresh token is redeemed once even in parallel; a deleted user's is a 401.
    "TOKEN_REFRESH_SERIALIZER": "accounts.tokens.TokenRefreshSerializer",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}
