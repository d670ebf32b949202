"""Settings, one module, driven by environment variables.

Development needs no variable at all: SQLite in `var/`, and Celery on kombu's
`filesystem://` broker so a real worker and beat run even without Redis.
Production (`DJANGO_DEBUG=0`) refuses to start without a real SECRET_KEY,
ALLOWED_HOSTS and DATABASE_URL.
"""

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from invoices.languages import DEFAULT_LOCALE, LANGUAGE_NAMES

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# `make run` keeps what it used (DATABASE_URL, REDIS_URL, PORT...) in .env, so
# manage.py in another shell, the worker and the server all work on the same
# database. A variable set in the environment wins over the file. The test
# suite reads no file (ENV_FILE is empty there, tests/environment.py): a
# developer's .env names the database and the broker queue of the server they
# are running, which tests must not touch.
ENV_FILE: str = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)

# Local state of the zero-setup run: SQLite file, filesystem broker, beat schedule.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG: bool = env.bool("DJANGO_DEBUG", default=True)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105
SECRET_KEY: str = env.str("SECRET_KEY", default=_DEV_SECRET_KEY)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["*"] if DEBUG else [])

if not DEBUG:
    missing = [
        name
        for name, is_missing in (
            ("SECRET_KEY", SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 32),
            ("ALLOWED_HOSTS", not ALLOWED_HOSTS),
            ("DATABASE_URL", "DATABASE_URL" not in env),
            ("MERCHANT_KEY_SECRET", "MERCHANT_KEY_SECRET" not in env),
            ("CONNECTOR_SECRETS_KEY", "CONNECTOR_SECRETS_KEY" not in env),
        )
        if is_missing
    ]
    if missing:
        raise ImproperlyConfigured("DJANGO_DEBUG=0 needs real values for: " + ", ".join(missing))

# Merchant secret keys and webhook secrets are never stored: the database keeps
# a random salt and a SHA-256 hash, and the key is derived from the salt with
# this server-side secret whenever a callback must be signed with it.
MERCHANT_KEY_SECRET: str = env.str("MERCHANT_KEY_SECRET", default=SECRET_KEY)

# Providers' API keys and notification secrets (Service.connector_secrets) are
# stored encrypted with Fernet. CONNECTOR_SECRETS_KEY is a comma-separated list
# of Fernet keys: the first encrypts, every one decrypts, so a new key goes in
# front, `manage.py connector_secrets_rotate` re-encrypts every row with it,
# and only then may the old one be dropped. Development derives one key from
# SECRET_KEY so nothing needs setting; production refuses to start without a
# real list (above), since a key derived from SECRET_KEY would tie every
# stored secret to it.
CONNECTOR_SECRETS_KEYS: list[str] = env.list(
    "CONNECTOR_SECRETS_KEY",
    default=[
        base64.urlsafe_b64encode(
            hashlib.sha256(b"connector-secrets:" + SECRET_KEY.encode()).digest()
        ).decode()
    ],
)
try:
    for _key in CONNECTOR_SECRETS_KEYS or [""]:
        Fernet(_key)
except ValueError:
    raise ImproperlyConfigured(
        "CONNECTOR_SECRETS_KEY must be a comma-separated list of Fernet keys (44 characters of"
        " url-safe base64 each, from `python -c 'from cryptography.fernet import Fernet;"
        " print(Fernet.generate_key().decode())'`)"
    ) from None

# Absolute base of the links handed to merchants (hpp_url, method logos).
PUBLIC_BASE_URL: str = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "invoices",
    "checkout",
    "connectors",
    "axes",
]

MIDDLEWARE = [
    "invoices.api.errors.ApiJsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # ETags and 304s for GET answers (the API document, images), from Django itself.
    "django.middleware.http.ConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.locale.PageLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "checkout.security.CheckoutSecurityHeadersMiddleware",
    # Last, as axes asks: it turns a login that axes flagged into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Axes' backend only refuses a locked-out login; ModelBackend then checks the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks instead of failing,
    # and take the write lock at BEGIN so two writers never deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Behind a transaction-mode pooler (PgBouncer) each transaction may run on
        # another server connection, so nothing may outlive a transaction there:
        # no server-side cursors (Django keeps them open WITH HOLD in autocommit)
        # and, unless DB_PREPARE_THRESHOLD says otherwise, no prepared statements.
        transaction_pooler = env.bool("DB_TRANSACTION_POOLER", default=False)
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = transaction_pooler
        # Values bound on the server, and a statement prepared the fifth time a
        # connection runs it, so PostgreSQL stops parsing and planning it each
        # time (the figures are in docs/performance.md). DB_PREPARE_THRESHOLD=0
        # turns this off: Django then binds values itself and prepares nothing. A
        # pooler that keeps prepared statements in transaction mode (PgBouncer
        # 1.21+ with max_prepared_statements) may have them back with
        # DB_PREPARE_THRESHOLD=5 beside DB_TRANSACTION_POOLER=1.
        if prepare_threshold := env.int(
            "DB_PREPARE_THRESHOLD", default=0 if transaction_pooler else 5
        ):
            DATABASES["default"].setdefault("OPTIONS", {}).update(
                {"server_side_binding": True, "prepare_threshold": prepare_threshold}
            )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = DEFAULT_LOCALE
LANGUAGES = list(LANGUAGE_NAMES.items())
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
# Times to the second with their zone (config/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Development serves static files straight from the apps; production from
# STATIC_ROOT, filled by `collectstatic` at release.
WHITENOISE_USE_FINDERS = DEBUG
if DEBUG:
    STATIC_ROOT.mkdir(exist_ok=True)

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

# Celery: at-least-once delivery. A task is acknowledged only after it ran, a
# task whose worker died is redelivered, and a worker holds one message at a
# time so a crash strands no prefetched work.
REDIS_URL: str = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Longer than any task may run, so Redis does not hand a running task to a
    # second worker; short enough that a lost task comes back within the hour.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        # A Redis that hangs must not hang the request that queues a task after
        # its commit: the publish gives up after this, and the task is queued
        # again by its sweep (see tasks.enqueue_after_commit).
        "socket_timeout": env.float("BROKER_SOCKET_TIMEOUT_SECONDS", default=0.1),
        "socket_connect_timeout": env.float("BROKER_SOCKET_TIMEOUT_SECONDS", default=0.1),
    }
    CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 0}
else:
    _broker_dir = VAR_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # How often the worker looks in the folder, so a confirmation is
        # forwarded (and a callback sent) within a tenth of a second, not
        # kombu's default of a whole second.
        "polling_interval": 0.1,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task
# unless told to reuse it, so each callback paid for a new PostgreSQL
# connection. Reuse it for this many tasks; config/celery.py checks its age
# (CONN_MAX_AGE) and health before each task, as Django does per request.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_DEFAULT_QUEUE = "default"
# Provider calls wait on other systems, so they get their own queue; workers
# consume default, provider and callbacks (see the Procfile).
CELERY_TASK_ROUTES = {
    "invoices.tasks.forward_confirmation": {"queue": "provider"},
    "invoices.tasks.poll_invoice": {"queue": "provider"},
    "invoices.tasks.deliver_callbacks": {"queue": "callbacks"},
    "invoices.tasks.process_provider_event": {"queue": "provider"},
}
CELERY_BEAT_SCHEDULE = {
    # Re-enqueue callbacks that are due or whose worker died: the outbox is
    # the truth, Celery messages are only a fast path.
    "sweep-callbacks": {"task": "invoices.tasks.sweep_callbacks", "schedule": 5.0},
    "poll-due-invoices": {"task": "invoices.tasks.poll_due_invoices", "schedule": 5.0},
    "expire-overdue-invoices": {"task": "invoices.tasks.expire_overdue_invoices", "schedule": 30.0},
    "sweep-provider-events": {"task": "invoices.tasks.sweep_provider_events", "schedule": 10.0},
    "purge-idempotency-keys": {
        "task": "invoices.tasks.purge_idempotency_keys",
        "schedule": 3600.0,
    },
}
# A beat tick that no worker picked up in time is dropped; the next one does its work.
CELERY_TASK_ANNOTATIONS = {
    name: {"expires": 60}
    for name in (
        "invoices.tasks.sweep_callbacks",
        "invoices.tasks.poll_due_invoices",
        "invoices.tasks.expire_overdue_invoices",
        "invoices.tasks.sweep_provider_events",
    )
}

# Callbacks (contract section 5).
CALLBACK_TIMEOUT_SECONDS: float = env.float("CALLBACK_TIMEOUT_SECONDS", default=10.0)
CALLBACK_CONNECT_TIMEOUT_SECONDS: float = env.float("CALLBACK_CONNECT_TIMEOUT_SECONDS", default=5.0)
CALLBACK_RETRY_BASE_SECONDS: float = env.float("CALLBACK_RETRY_BASE_SECONDS", default=10.0)
CALLBACK_RETRY_MAX_SECONDS: float = env.float("CALLBACK_RETRY_MAX_SECONDS", default=3600.0)
CALLBACK_RETRY_WINDOW_SECONDS: float = env.float(
    "CALLBACK_RETRY_WINDOW_SECONDS", default=3 * 86400.0
)
# Longer than one delivery can take (connect + read timeouts), renewed per callback.
CALLBACK_LEASE_SECONDS: float = env.float("CALLBACK_LEASE_SECONDS", default=60.0)

# The `http` connector's provider (the emulator in development and tests).
PROVIDER_EMULATOR_PORT: int = env.int("PROVIDER_EMULATOR_PORT", default=8765)
# A second emulated provider, with credentials of its own (connectors/emulator.py
# SECOND_PROVIDER): the demo's second http service is its account.
PROVIDER_EMULATOR_2_PORT: int = env.int(
    "PROVIDER_EMULATOR_2_PORT", default=PROVIDER_EMULATOR_PORT + 1
)
PROVIDER_HTTP_URL: str = env.str(
    "PROVIDER_HTTP_URL", default=f"http://127.0.0.1:{PROVIDER_EMULATOR_PORT}"
).rstrip("/")
PROVIDER_HTTP_API_KEY: str = env.str("PROVIDER_HTTP_API_KEY", default="emulator-api-key")
PROVIDER_HTTP_NOTIFY_SECRET: str = env.str(
    "PROVIDER_HTTP_NOTIFY_SECRET", default="emulator-notify-secret"
)
PROVIDER_HTTP_CONNECT_TIMEOUT_SECONDS: float = env.float(
    "PROVIDER_HTTP_CONNECT_TIMEOUT_SECONDS", default=3.0
)
PROVIDER_HTTP_READ_TIMEOUT_SECONDS: float = env.float(
    "PROVIDER_HTTP_READ_TIMEOUT_SECONDS", default=10.0
)
# After this many failures in a row the provider is not called for a while,
# so one slow provider cannot tie up every worker.
PROVIDER_HTTP_BREAKER_FAILURES: int = env.int("PROVIDER_HTTP_BREAKER_FAILURES", default=5)
PROVIDER_HTTP_BREAKER_COOLDOWN_SECONDS: float = env.float(
    "PROVIDER_HTTP_BREAKER_COOLDOWN_SECONDS", default=30.0
)

# Provider polling back-off: 10 s, doubling, at most 10 minutes.
POLL_FIRST_DELAY_SECONDS: float = env.float("POLL_FIRST_DELAY_SECONDS", default=10.0)
POLL_MAX_DELAY_SECONDS: float = env.float("POLL_MAX_DELAY_SECONDS", default=600.0)
CELERY_TIMEZONE = TIME_ZONE

# Rate limits are counted in a cache every web process shares: Redis when there
# is one; a single-process development server can count in memory.
if REDIS_URL:
    # django-redis: Django's own Redis backend builds a client object on every
    # call, a cost every hosted page and API read would pay on each cache read.
    SHARED_REDIS_CACHE = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": "coma",
        # A Redis that hangs costs a request one short wait, not redis-py's
        # retries of a 5 s default (then config/redis_circuit.py keeps it away).
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 0.1,
            "SOCKET_TIMEOUT": 0.1,
            "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), retries=0)},
        },
    }
    CACHES = {"default": SHARED_REDIS_CACHE}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The read models in Redis (invoices/read_models.py: the status box, the API
# document): how long one lives, which bounds how long a status written around
# the state machine (a data fix) stays unseen; how long Redis may take to
# answer before a request reads PostgreSQL instead; and how long a process
# then leaves Redis alone (config/redis_circuit.py).
READ_MODEL_SECONDS: float = env.float("READ_MODEL_SECONDS", default=5.0)
READ_MODEL_TIMEOUT_SECONDS: float = env.float("READ_MODEL_TIMEOUT_SECONDS", default=0.05)
READ_MODEL_MOVE_TIMEOUT_SECONDS: float = env.float("READ_MODEL_MOVE_TIMEOUT_SECONDS", default=0.1)
REDIS_PAUSE_SECONDS: float = env.float("REDIS_PAUSE_SECONDS", default=5.0)
# Merchants and services as the API and the pages read them (invoices/catalog.py),
# dropped on every save; this bounds what a dropped entry cannot cover (a psql fix,
# a reader racing a save, a drop Redis refused).
CATALOG_SECONDS: float = env.float("CATALOG_SECONDS", default=5.0)
# An invoice's QR code and barcode never change (its requisites are written
# once, with the invoice), so each process keeps the images it served last:
# a repeated image costs neither a query nor a trip to Redis.
CACHES["images"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "images",
    "TIMEOUT": 3600,
    "OPTIONS": {"MAX_ENTRIES": 2000},
}

# Rendered fragments of the hosted pages ({% cache %} in templates/checkout):
# each is named by a digest of everything it is rendered from, so a fragment
# can never be stale and needs no invalidation; each process keeps its own,
# which saves the trip to Redis that would cost about as much as rendering.
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "fragments",
    "TIMEOUT": 3600,
    "OPTIONS": {"MAX_ENTRIES": 5000},
}

# Failed admin logins are counted by axes in a cache every web process shares
# (a count kept per process would let each gunicorn worker grant its own
# guesses): Redis when there is one, else a table in the database, which the
# zero-setup run creates with `manage.py createcachetable`. Its own alias, so
# the other caches keep their backends.
if REDIS_URL:
    CACHES["axes"] = SHARED_REDIS_CACHE
else:
    CACHES["axes"] = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "login_failure_cache",
        # Past MAX_ENTRIES Django drops a third of the table, counts in play
        # included: an attacker would need that many failed logins under new
        # names to wipe a count. Production counts in Redis, which does not cull.
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_CACHE = "axes"
# One operator's password guessed from one address locks out only that pair:
# the attacker cannot keep guessing, and cannot lock a colleague out by
# typing their name from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Five wrong passwords (each within the cool-off of the one before), then a
# quarter of an hour's wait: little for an operator who mistyped, and a
# guesser gets some twenty tries an hour.
AXES_FAILURE_LIMIT: int = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("ADMIN_LOGIN_COOLOFF_MINUTES", default=15))
# The cool-off is the counters' lifetime in the cache, in whole seconds: under
# one second they would vanish at once and nobody would ever be locked out.
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME.total_seconds() < 1:
    raise ImproperlyConfigured(
        "ADMIN_LOGIN_FAILURE_LIMIT must be at least 1 and ADMIN_LOGIN_COOLOFF_MINUTES"
        " at least 1/60 (one second)"
    )
# The wait counts from the failure that locked the pair: attempts during it
# (the operator's own, with the right password) are refused without making it
# longer, so "try again in 15 minutes" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A successful login starts the count of failures afresh.
AXES_RESET_ON_SUCCESS = True
# The address rate limits use, so a forged X-Forwarded-For cannot dodge a lockout.
AXES_CLIENT_IP_CALLABLE = "invoices.ratelimit.client_address"
AXES_LOCKOUT_CALLABLE = "config.admin_lockout.lockout_response"
# The status of that page (axes' default, named here because the callable reads it).
AXES_HTTP_RESPONSE_CODE = 429
# The cache handler keeps no rows, so axes' admin pages would only list empty tables.
AXES_ENABLE_ADMIN = False

# The merchant API refuses larger bodies with 413 before parsing them.
API_MAX_BODY_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Bank statement files (POST /api/statements, the admin's upload) are read on their own
# terms: a month of a busy account is far more than a JSON request.
STATEMENT_MAX_BYTES: int = env.int("STATEMENT_MAX_BYTES", default=5 * 1024 * 1024)
# How many proxies of ours (load balancers) stand before the app and append to
# X-Forwarded-For; 0 = clients connect directly.
TRUSTED_PROXY_COUNT: int = env.int("TRUSTED_PROXY_COUNT", default=0)
# Confirmation attempts one client may make per minute, across all invoices.
CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE: int = env.int(
    "CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE", default=30
)

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO").upper()
# INFO is what a person watching wants to see: requests (gunicorn's access
# log), invoices created and moved, callbacks sent. What repeats on its own
# (beat sending its sweeps every few seconds, the worker's line for every task
# it receives and finishes) shows only at LOG_LEVEL=DEBUG; a task that fails
# is still an error.
_ROUTINE_LEVEL = "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Axes announces its version at every start of every command; its lockouts are warnings.
        "axes.apps": {"level": "WARNING"},
        "celery.beat": {"level": _ROUTINE_LEVEL},
        "celery.worker.strategy": {"level": _ROUTINE_LEVEL},
        "celery.app.trace": {"level": _ROUTINE_LEVEL},
    },
}
