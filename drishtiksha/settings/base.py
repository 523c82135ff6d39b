"""Settings every environment shares, read from the environment.

Every variable is documented in `.env.example`. With nothing configured the project runs on embedded
defaults: a SQLite file database and the Redis that `make run` starts (see `drishtiksha.runner`).
What differs between environments (DEBUG, the secret key, cookie and transport security, log
format, static file serving) is set by `development`, `production` and `test`, which start from
this module; nothing uses it on its own.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("DRISHTIKSHA_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- Core -----------------------------------------------------------------------------------------

# Off unless DJANGO_DEBUG or the environment (development) turns it on. SECRET_KEY and the Secure
# flag of cookies (`secure_cookies`) are set by each environment's module.
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
# Other origins whose pages call the API from the browser with credentials (the single-page app at
# its own origin, the browser extension as `chrome-extension://<id>`). Each is allowed by CORS and,
# like our own origin, trusted for CSRF: the API accepts the `authToken` cookie on an unsafe method
# only from a trusted Origin or with a CSRF token, and these clients send no token.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_CREDENTIALS = True
# Only the API (and the Socket.IO endpoint of the same clients) answers other origins.
CORS_URLS_REGEX = r"^/(api|socket\.io)/"
# Response headers a cross-origin page may read besides the CORS-safelisted ones.
CORS_EXPOSE_HEADERS = ["Content-Disposition", "X-Request-ID", "X-Total-Count", "X-List-Truncated"]
CSRF_TRUSTED_ORIGINS = list(
    dict.fromkeys([*env_list("DJANGO_CSRF_TRUSTED_ORIGINS"), *CORS_ALLOWED_ORIGINS])
)

INSTALLED_APPS = [
    "daphne",
    "corsheaders",
    # The stock admin with the operator console's index panel (see drishtiksha.admin_site).
    "drishtiksha.admin_site.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "accounts",
    "media_analysis",
    "monitoring",
    "audit",
    "integrations",
    "legacy",
]

MIDDLEWARE = [
    # First, so that every response (errors included) carries the request id.
    "drishtiksha.middleware.RequestIdMiddleware",
    # Before anything that may answer on its own (redirects, static files, CommonMiddleware), so
    # that those answers and the preflights carry the CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "drishtiksha.content_security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Everything a page runs, loads or connects to comes from this site (see content_security.py).
# `data:` images are the icons inside the API documentation's stylesheet; `'self'` in connect-src
# covers the progress websocket (ws/wss to this host).
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "media-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

ROOT_URLCONF = "drishtiksha.urls"
WSGI_APPLICATION = "drishtiksha.wsgi.application"
ASGI_APPLICATION = "drishtiksha.asgi.application"

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
                "media_analysis.context_processors.vocabulary",
                "media_analysis.context_processors.progress_notifier",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
# Django's default hashers, the first of which hashes every new password; then bcrypt, so that the
# hashes imported from the Node version (`import_legacy`) still verify and are rehashed with the
# default at the user's next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Database -------------------------------------------------------------------------------------

SQLITE_BUSY_TIMEOUT_SECONDS = env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 30)
# PostgreSQL: seconds to establish a connection (libpq counts at least 2), and idle seconds before
# TCP keepalive probes start on an open one.
DB_CONNECT_TIMEOUT_SECONDS = env_int("DB_CONNECT_TIMEOUT_SECONDS", 10)
DB_KEEPALIVES_IDLE_SECONDS = env_int("DB_KEEPALIVES_IDLE_SECONDS", 30)


# PostgreSQL: connections a process keeps in its pool (0: no pool, a connection per request), and
# seconds a request waits for one (all in use, or the server not answering) before it fails; by
# default as long as a connection may take to establish. A DB_CONN_MAX_AGE above 0 asks for
# persistent per-thread connections instead, without a pool.
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 40)
DB_POOL_TIMEOUT_SECONDS = env_float("DB_POOL_TIMEOUT_SECONDS", DB_CONNECT_TIMEOUT_SECONDS)
# Seconds /readyz waits for a pooled connection before calling the database unreachable.
DB_HEALTH_TIMEOUT_SECONDS = env_float("DB_HEALTH_TIMEOUT_SECONDS", 2.0)


# Django's backend, but timestamps read by psycopg's compiled loader (see the module).
POSTGRESQL_ENGINE = "drishtiksha.postgresql"


def _database_config() -> dict:
    url = env_str("DATABASE_URL")
    if url:
        # Never persistent per thread: under ASGI every request may run in its own thread, and
        # per-thread connections pile up until the server refuses more (bench/load.py hit
        # PostgreSQL's connection limit with 60). A process-wide pool reuses them instead.
        config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))
        config["CONN_HEALTH_CHECKS"] = True
        if config["ENGINE"] == "django.db.backends.postgresql":
            config["ENGINE"] = POSTGRESQL_ENGINE
        pooled = DB_POOL_MAX_SIZE > 0 and not config["CONN_MAX_AGE"]
        if config["ENGINE"] == POSTGRESQL_ENGINE and pooled:
            # Opening a connection was about a tenth of a list request's time (bench/list.py).
            # Checked out on a request's first query, returned when it ends; checked before use.
            config.setdefault("OPTIONS", {})["pool"] = {
                "min_size": 1,
                "max_size": DB_POOL_MAX_SIZE,
                "timeout": DB_POOL_TIMEOUT_SECONDS,
                "max_idle": 300,
            }
        if config["ENGINE"] == POSTGRESQL_ENGINE:
            # A server that accepts the connection but never answers (a failover in progress, a
            # stuck proxy) must fail the caller, not hang it: a worker stuck there keeps renewing
            # its analysis lease. Keepalives notice a peer that vanished under an idle connection.
            config.setdefault("OPTIONS", {}).update(
                {
                    "connect_timeout": DB_CONNECT_TIMEOUT_SECONDS,
                    "keepalives": 1,
                    "keepalives_idle": DB_KEEPALIVES_IDLE_SECONDS,
                    "keepalives_interval": 10,
                    "keepalives_count": 3,
                }
            )
    else:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "db.sqlite3")}
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # The web server and the Celery workers write to the same file: WAL lets readers and one
        # writer proceed together, and IMMEDIATE transactions take the write lock up front so that
        # a transaction never fails half-way on a lock upgrade.
        config.setdefault("OPTIONS", {}).update(
            {
                "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
    return config


DATABASES = {"default": _database_config()}
# Celery workers run one task at a time per process and keep their connections this long.
WORKER_DB_CONN_MAX_AGE = env_int("WORKER_DB_CONN_MAX_AGE", 60)
# Workers (and the ffprobe/ffmpeg they start) run at this nice level, so that on a machine shared
# with the web server a burst of analyses slows the analyses, not the pages; 0 leaves them alone.
WORKER_NICENESS = env_int("WORKER_NICENESS", 10)

# --- Redis: broker, result backend, cache, channel layer ------------------------------------------

# `drishtiksha.runner` exports REDIS_URL for the embedded Redis it starts; the fallback below only
# matters for management commands run by hand while `make run` is up.
EMBEDDED_REDIS_PORT = env_int("EMBEDDED_REDIS_PORT", 6390)
REDIS_URL = env_str("REDIS_URL") or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "drishtiksha")
REDIS_HEALTH_TIMEOUT_SECONDS = env_float("REDIS_HEALTH_TIMEOUT_SECONDS", 2.0)
# While Redis does not answer, requests that need it answer 503 with this Retry-After.
OUTAGE_RETRY_AFTER_SECONDS = env_int("OUTAGE_RETRY_AFTER_SECONDS", 10)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "TIMEOUT": 300,
    }
}

CHANNEL_LAYER_SOCKET_TIMEOUT = env_float("CHANNEL_LAYER_SOCKET_TIMEOUT_SECONDS", 30.0)
CHANNEL_LAYERS = {
    "default": {
        # channels_redis's layer, with a group send in half the round trips (every progress event
        # is one, and the workers wait for the final ones).
        "BACKEND": "drishtiksha.channel_layer.ProgressChannelLayer",
        "CONFIG": {
            # The layer waits for messages with a blocking pop of up to 5 s; redis-py's asyncio
            # client times reads out at 5 s by default, which killed idle consumers under load.
            # The read timeout must stay above the pop's block time.
            "hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT}],
            "prefix": f"{REDIS_KEY_PREFIX}:channels",
            # Every websocket of one web process shares a single Redis list, and the layer drops
            # (logging only at INFO) whatever arrives once it holds `capacity` messages: the
            # default of 100 lost final events when 50 runs ended before 200 listeners had read.
            "capacity": env_int("CHANNEL_LAYER_CAPACITY", 2000),
        },
    }
}

# --- Celery ---------------------------------------------------------------------------------------

ANALYSIS_QUEUE = "analysis"
HOUSEKEEPING_QUEUE = "housekeeping"

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = HOUSEKEEPING_QUEUE
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enough worker slots for every model of a run to proceed side by side: the public inference
# server offers up to 9 models for a video with sound (7 video, 1 image+video, 1 lip-sync).
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 12)
CELERY_BEAT_SCHEDULE_FILE = str(VAR_DIR / "celerybeat-schedule")

# --- Files ----------------------------------------------------------------------------------------

MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media-files/"
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]

# Where uploaded media and thumbnails live: local disk (default), S3-compatible object storage,
# or Cloudinary. Files are never served straight from the storage: the app checks ownership and
# streams them, so nothing is public.
STORAGE_BACKEND = env_str("STORAGE_BACKEND", "local").lower()
_MEDIA_STORAGES = {
    "local": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "s3": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "signature_version": "s3v4",
        },
    },
    "cloudinary": {"BACKEND": "media_analysis.storage_backends.CloudinaryStorage"},
}
if STORAGE_BACKEND not in _MEDIA_STORAGES:
    raise ImproperlyConfigured(
        f"STORAGE_BACKEND must be one of {', '.join(_MEDIA_STORAGES)}, got {STORAGE_BACKEND!r}"
    )
STORAGES = {
    "default": _MEDIA_STORAGES[STORAGE_BACKEND],
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Cloudinary: CLOUDINARY_URL=cloudinary://key:secret@cloud_name; large videos upload in chunks.
CLOUDINARY_URL = env_str("CLOUDINARY_URL")
CLOUDINARY_CHUNK_SIZE = env_int("CLOUDINARY_CHUNK_SIZE", 20 * 1024 * 1024)
# Longest a Cloudinary request may wait on the network, and how long a signed download URL lives.
CLOUDINARY_TIMEOUT_SECONDS = env_float("CLOUDINARY_TIMEOUT_SECONDS", 60.0)
CLOUDINARY_DOWNLOAD_URL_TTL_SECONDS = env_int("CLOUDINARY_DOWNLOAD_URL_TTL_SECONDS", 300)

# --- Media ingestion ------------------------------------------------------------------------------

# Largest accepted upload in bytes (default 500 MiB). Larger uploads answer 413 and leave nothing.
MAX_UPLOAD_SIZE = env_int("MAX_UPLOAD_SIZE", 500 * 1024 * 1024)
# Allowance on top of MAX_UPLOAD_SIZE for multipart framing and the form fields beside the file.
# Any request body larger than the two together is refused with 413 as it arrives, before Django
# spools it to disk (see drishtiksha.asgi_limits).
REQUEST_BODY_OVERHEAD_BYTES = env_int("REQUEST_BODY_OVERHEAD_BYTES", 1024 * 1024)
# Uploaded files always stream to a temporary file on disk, never into memory.
FILE_UPLOAD_HANDLERS = ["media_analysis.uploads.StreamingUploadHandler"]
# Where they stream to: unset, a `.incoming` folder in MEDIA_ROOT with local storage (so storing
# the upload is a rename on the same filesystem), else the system's temporary directory.
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR") or None
# Uploads per user (DRF rate syntax: N/second|minute|hour|day).
API_UPLOAD_THROTTLE_RATE = env_str("API_UPLOAD_THROTTLE_RATE", "120/hour")
# Largest image accepted, in pixels per frame (every frame of an animated image), default 50 MP.
# Decoding takes memory in proportion to pixels, not to the file's size.
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 50_000_000)
# Width in pixels of the poster thumbnails made for videos and images.
THUMBNAIL_WIDTH = env_int("THUMBNAIL_WIDTH", 320)
# Longest an ffmpeg/ffprobe call on an upload may take, in seconds.
FFMPEG_TIMEOUT_SECONDS = env_int("FFMPEG_TIMEOUT_SECONDS", 60)

# --- Inference server -----------------------------------------------------------------------------

MLSERVER_PORT = env_int("MLSERVER_PORT", 8001)
ML_SERVER_URL = env_str("ML_SERVER_URL") or f"http://127.0.0.1:{MLSERVER_PORT}"
ML_SERVER_API_KEY = env_str("ML_SERVER_API_KEY", "dev-ml-key")
MEDIA_PROGRESS_CHANNEL_NAME = env_str("MEDIA_PROGRESS_CHANNEL_NAME", "media-progress-events")

# --- Analysis pipeline ----------------------------------------------------------------------------
# How a run fans out to the inference server and always ends with a final status. The limits below
# depend on each other; `_check_pipeline_limits` refuses combinations that could lose or loop work.

# Inference client. The read timeout bounds the wait for one `/analyze` answer, which for a long
# video arrives only after minutes of inference.
ML_CONNECT_TIMEOUT_SECONDS = env_float("ML_CONNECT_TIMEOUT_SECONDS", 5.0)
ML_READ_TIMEOUT_SECONDS = env_float("ML_READ_TIMEOUT_SECONDS", 20 * 60.0)
ML_STATS_READ_TIMEOUT_SECONDS = env_float("ML_STATS_READ_TIMEOUT_SECONDS", 10.0)
ML_STATS_CACHE_SECONDS = env_int("ML_STATS_CACHE_SECONDS", 60)
ML_ERROR_BODY_MAX_CHARS = env_int("ML_ERROR_BODY_MAX_CHARS", 2000)
ML_DOWNLOAD_CHUNK_BYTES = env_int("ML_DOWNLOAD_CHUNK_BYTES", 1024 * 1024)
# Where the inference server publishes its own progress events (see MEDIA_PROGRESS_CHANNEL_NAME).
ML_PROGRESS_REDIS_URL = env_str("ML_PROGRESS_REDIS_URL") or REDIS_URL

# Inference server unreachable when a run starts: keep asking for this long, then fail the run.
ANALYSIS_DISCOVERY_TIMEOUT_SECONDS = env_int("ANALYSIS_DISCOVERY_TIMEOUT_SECONDS", 15 * 60)
ANALYSIS_DISCOVERY_BACKOFF_SECONDS = env_float("ANALYSIS_DISCOVERY_BACKOFF_SECONDS", 2.0)
ANALYSIS_DISCOVERY_BACKOFF_MAX_SECONDS = env_float("ANALYSIS_DISCOVERY_BACKOFF_MAX_SECONDS", 60.0)

# One model on one file. Transient failures (connection, timeout, 5xx) are retried; a lost worker
# counts as an attempt too, so a file that kills workers cannot loop forever.
ANALYSIS_MAX_RETRIES = env_int("ANALYSIS_MAX_RETRIES", 3)
ANALYSIS_RETRY_BACKOFF_SECONDS = env_float("ANALYSIS_RETRY_BACKOFF_SECONDS", 5.0)
ANALYSIS_RETRY_BACKOFF_MAX_SECONDS = env_float("ANALYSIS_RETRY_BACKOFF_MAX_SECONDS", 120.0)
ANALYSIS_TASK_SOFT_TIME_LIMIT_SECONDS = env_int(
    "ANALYSIS_TASK_SOFT_TIME_LIMIT_SECONDS",
    int(ML_CONNECT_TIMEOUT_SECONDS + ML_READ_TIMEOUT_SECONDS) + 120,
)
ANALYSIS_TASK_TIME_LIMIT_SECONDS = env_int(
    "ANALYSIS_TASK_TIME_LIMIT_SECONDS", ANALYSIS_TASK_SOFT_TIME_LIMIT_SECONDS + 60
)
# A running analysis holds a Redis lease of this lifetime and renews it every third of it; a lease
# that lapses means the worker is gone.
ANALYSIS_HEARTBEAT_SECONDS = env_float("ANALYSIS_HEARTBEAT_SECONDS", 30.0)

# Dispatch, finalize and reaper tasks: short database work only.
HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS = env_int(
    "HOUSEKEEPING_TASK_SOFT_TIME_LIMIT_SECONDS", 120
)
HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS = env_int("HOUSEKEEPING_TASK_TIME_LIMIT_SECONDS", 180)

# Stuck-run reaper. A started analysis whose lease lapsed and which made no progress for
# ANALYSIS_STUCK_TIMEOUT_SECONDS is re-sent; one never started is re-sent only after
# ANALYSIS_QUEUED_TIMEOUT_SECONDS, because waiting in a long queue is legitimate.
ANALYSIS_REAPER_INTERVAL_SECONDS = env_int("ANALYSIS_REAPER_INTERVAL_SECONDS", 60)
ANALYSIS_STUCK_TIMEOUT_SECONDS = env_int("ANALYSIS_STUCK_TIMEOUT_SECONDS", 300)
ANALYSIS_QUEUED_TIMEOUT_SECONDS = env_int("ANALYSIS_QUEUED_TIMEOUT_SECONDS", 60 * 60)
ANALYSIS_REAPER_MAX_REDISPATCHES = env_int("ANALYSIS_REAPER_MAX_REDISPATCHES", 2)

# Verdict over a run's completed analyses: mean fake probability above the first -> FAKE, below
# the second -> REAL, in between (bounds included) -> INCONCLUSIVE.
VERDICT_FAKE_THRESHOLD = env_float("VERDICT_FAKE_THRESHOLD", 0.55)
VERDICT_REAL_THRESHOLD = env_float("VERDICT_REAL_THRESHOLD", 0.45)
# A model no evaluation has measured counts with this weight (a measured one weighs
# 2 * (AUC - 0.5), so 0.5 is what an AUC of 0.75 earns); see media_analysis.verdict.
VERDICT_UNVALIDATED_WEIGHT = env_float("VERDICT_UNVALIDATED_WEIGHT", 0.5)
# Calibration pulls a probability toward 0.5 as if its reliability bin held this many more items
# at exactly 0.5: a bin of few evaluated items says little about what a score means.
VERDICT_CALIBRATION_PRIOR_ITEMS = env_int("VERDICT_CALIBRATION_PRIOR_ITEMS", 2)

# Evaluation sets: bins of the reliability (calibration) table; how often the finishing task looks
# whether every run of an evaluation is final, and how long it waits at most before closing it.
EVALUATION_CALIBRATION_BINS = env_int("EVALUATION_CALIBRATION_BINS", 5)
EVALUATION_POLL_SECONDS = env_float("EVALUATION_POLL_SECONDS", 10.0)
EVALUATION_TIMEOUT_SECONDS = env_int("EVALUATION_TIMEOUT_SECONDS", 2 * 60 * 60)
# Most items one uploaded evaluation archive may hold (each becomes a media item and a run).
EVALUATION_MAX_ITEMS = env_int("EVALUATION_MAX_ITEMS", 500)

# Progress events: per-run sequence counters live this long in Redis; the relay writes a model's
# progress to the database at most once per interval and logs its counters every so often.
PROGRESS_SEQUENCE_TTL_SECONDS = env_int("PROGRESS_SEQUENCE_TTL_SECONDS", 2 * 24 * 60 * 60)
PROGRESS_PUBLISH_TIMEOUT_SECONDS = env_float("PROGRESS_PUBLISH_TIMEOUT_SECONDS", 2.0)
RELAY_PROGRESS_WRITE_INTERVAL_SECONDS = env_float("RELAY_PROGRESS_WRITE_INTERVAL_SECONDS", 1.0)
RELAY_STATS_LOG_INTERVAL_SECONDS = env_int("RELAY_STATS_LOG_INTERVAL_SECONDS", 60)
RELAY_RECONNECT_DELAY_SECONDS = env_float("RELAY_RECONNECT_DELAY_SECONDS", 1.0)
RELAY_RECONNECT_DELAY_MAX_SECONDS = env_float("RELAY_RECONNECT_DELAY_MAX_SECONDS", 30.0)

# Celery: analyses and housekeeping on separate queues (a deployment can give housekeeping a worker
# of its own, so that settling runs never waits behind minutes-long inference); a message is
# redelivered only once its task cannot possibly still be running; results (and chord state)
# outlive the longest run.
# Task modules outside an app's `tasks` module, which autodiscovery does not import.
CELERY_IMPORTS = ("media_analysis.evaluation.tasks",)
CELERY_TASK_ROUTES = {
    "media_analysis.analysis_execute": {"queue": ANALYSIS_QUEUE},
    "media_analysis.*": {"queue": HOUSEKEEPING_QUEUE},
}
CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS = env_int(
    "CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS", ANALYSIS_TASK_TIME_LIMIT_SECONDS + 10 * 60
)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS}
CELERY_RESULT_EXPIRES = env_int("CELERY_RESULT_EXPIRES_SECONDS", 24 * 60 * 60)
# Workers keep database connections across tasks (as the web process does across requests) and
# drop only those past DB_CONN_MAX_AGE or broken; see drishtiksha.celery.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_BEAT_SCHEDULE = {
    "reap-stuck-runs": {
        "task": "media_analysis.runs_reap",
        "schedule": float(ANALYSIS_REAPER_INTERVAL_SECONDS),
        # A sweep that waited longer than one interval is superseded by the next one.
        "options": {"expires": float(ANALYSIS_REAPER_INTERVAL_SECONDS)},
    },
}


def _check_pipeline_limits() -> None:
    def require(condition: bool, message: str) -> None:
        if not condition:
            raise ImproperlyConfigured(message)

    require(
        ML_CONNECT_TIMEOUT_SECONDS + ML_READ_TIMEOUT_SECONDS
        < ANALYSIS_TASK_SOFT_TIME_LIMIT_SECONDS,
        "ANALYSIS_TASK_SOFT_TIME_LIMIT_SECONDS must exceed the ML connect + read timeouts, so a"
        " slow answer ends as a timeout the task records, not as a killed task.",
    )
    require(
        ANALYSIS_TASK_SOFT_TIME_LIMIT_SECONDS < ANALYSIS_TASK_TIME_LIMIT_SECONDS,
        "ANALYSIS_TASK_TIME_LIMIT_SECONDS must exceed ANALYSIS_TASK_SOFT_TIME_LIMIT_SECONDS.",
    )
    require(
        max(ANALYSIS_TASK_TIME_LIMIT_SECONDS, ANALYSIS_RETRY_BACKOFF_MAX_SECONDS * 2)
        < CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS,
        "CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS must exceed the analysis hard time limit and"
        " the longest retry delay, or the broker hands a running task to a second worker.",
    )
    require(
        max(
            ANALYSIS_HEARTBEAT_SECONDS,
            ANALYSIS_RETRY_BACKOFF_MAX_SECONDS,
            ANALYSIS_DISCOVERY_BACKOFF_MAX_SECONDS,
        )
        < ANALYSIS_STUCK_TIMEOUT_SECONDS,
        "ANALYSIS_STUCK_TIMEOUT_SECONDS must exceed ANALYSIS_HEARTBEAT_SECONDS and the longest"
        " retry delays, or the reaper re-sends work that is only waiting for its next attempt.",
    )
    longest_run = ANALYSIS_DISCOVERY_TIMEOUT_SECONDS + (ANALYSIS_REAPER_MAX_REDISPATCHES + 1) * (
        ANALYSIS_MAX_RETRIES + 1
    ) * (ANALYSIS_TASK_TIME_LIMIT_SECONDS + ANALYSIS_RETRY_BACKOFF_MAX_SECONDS)
    require(
        longest_run < CELERY_RESULT_EXPIRES,
        f"CELERY_RESULT_EXPIRES_SECONDS must exceed the longest possible run ({longest_run:.0f} s)"
        " or a run's chord state expires before it finishes.",
    )
    require(
        0.0 <= VERDICT_REAL_THRESHOLD <= VERDICT_FAKE_THRESHOLD <= 1.0,
        "Verdict thresholds must satisfy"
        " 0 <= VERDICT_REAL_THRESHOLD <= VERDICT_FAKE_THRESHOLD <= 1.",
    )
    require(
        0.0 <= VERDICT_UNVALIDATED_WEIGHT <= 1.0 and VERDICT_CALIBRATION_PRIOR_ITEMS >= 0,
        "VERDICT_UNVALIDATED_WEIGHT must lie in [0, 1] and VERDICT_CALIBRATION_PRIOR_ITEMS must"
        " not be negative.",
    )
    require(
        EVALUATION_CALIBRATION_BINS >= 1,
        "EVALUATION_CALIBRATION_BINS must be at least 1.",
    )


_check_pipeline_limits()

# --- Monitoring and the operator console ----------------------------------------------------------

# Celery beat asks the inference server's /stats this often and records a ServerHealth row; rows
# older than HEALTH_RETENTION_DAYS are pruned by the same task.
HEALTH_CHECK_INTERVAL = env_int("HEALTH_CHECK_INTERVAL", 60)
HEALTH_RETENTION_DAYS = env_int("HEALTH_RETENTION_DAYS", 30)
CELERY_TASK_ROUTES["monitoring.*"] = {"queue": HOUSEKEEPING_QUEUE}
CELERY_BEAT_SCHEDULE["check-inference-health"] = {
    "task": "monitoring.server_health_check",
    "schedule": float(HEALTH_CHECK_INTERVAL),
    # A check that waited longer than one interval is superseded by the next one.
    "options": {"expires": float(HEALTH_CHECK_INTERVAL)},
}
# GET /monitoring/server-status reuses a /stats answer this young (0: always ask the server).
MONITORING_STATUS_CACHE_SECONDS = env_int("MONITORING_STATUS_CACHE_SECONDS", 5)
# Rows of GET /monitoring/server-history (and points of the page's chart) by default, and at most.
MONITORING_HISTORY_DEFAULT_LIMIT = env_int("MONITORING_HISTORY_DEFAULT_LIMIT", 50)
MONITORING_HISTORY_MAX_LIMIT = env_int("MONITORING_HISTORY_MAX_LIMIT", 500)
# Seconds queue-status waits for workers to answer Celery's inspect broadcast.
MONITORING_INSPECT_TIMEOUT_SECONDS = env_float("MONITORING_INSPECT_TIMEOUT_SECONDS", 1.0)
# Window of the "recent" figures: completed/failed jobs, and the admin's failure rate.
MONITORING_RECENT_WINDOW_HOURS = env_int("MONITORING_RECENT_WINDOW_HOURS", 24)
# Analytics window in days when `?days=` is not given, and the largest one accepted.
MONITORING_ANALYTICS_DEFAULT_DAYS = env_int("MONITORING_ANALYTICS_DEFAULT_DAYS", 30)
MONITORING_ANALYTICS_MAX_DAYS = env_int("MONITORING_ANALYTICS_MAX_DAYS", 365)
# How many of the slowest and of the fastest analyses analytics lists.
MONITORING_ANALYTICS_TOP_COUNT = env_int("MONITORING_ANALYTICS_TOP_COUNT", 5)
# Characters of a JSON document (result payload, error details) the admin pretty-prints.
ADMIN_JSON_PREVIEW_MAX_CHARS = env_int("ADMIN_JSON_PREVIEW_MAX_CHARS", 100_000)

# --- Reports --------------------------------------------------------------------------------------

# Risk level printed in the PDF report, from the run's fake score (0-1): High at or above
# REPORT_RISK_HIGH, Elevated at or above REPORT_RISK_ELEVATED, Moderate at or above
# REPORT_RISK_MODERATE, Low below. The report prints this rule next to the level.
REPORT_RISK_HIGH = env_float("REPORT_RISK_HIGH", 0.75)
REPORT_RISK_ELEVATED = env_float("REPORT_RISK_ELEVATED", 0.55)
REPORT_RISK_MODERATE = env_float("REPORT_RISK_MODERATE", 0.45)
if not 0.0 <= REPORT_RISK_MODERATE <= REPORT_RISK_ELEVATED <= REPORT_RISK_HIGH <= 1.0:
    raise ImproperlyConfigured(
        "Report risk thresholds must satisfy"
        " 0 <= REPORT_RISK_MODERATE <= REPORT_RISK_ELEVATED <= REPORT_RISK_HIGH <= 1."
    )

# TrueType fonts the report embeds so that any script they cover prints as written (DejaVu Sans
# from Debian's fonts-dejavu-core by default). Empty, missing or unreadable: the built-in PDF
# fonts, which cover Windows-1252 only (other characters print as "?").
REPORT_FONT_PATH = env_str("REPORT_FONT_PATH", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
REPORT_FONT_BOLD_PATH = env_str(
    "REPORT_FONT_BOLD_PATH", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
)

# --- Pages and live progress ----------------------------------------------------------------------

# Seconds a one-time websocket ticket (POST /api/v1/auth/ws-ticket) stays valid before first use.
WS_TICKET_TTL_SECONDS = env_int("WS_TICKET_TTL_SECONDS", 60)
# Dashboard rows per page, and the page sizes a user may pick (the largest is the cap).
DASHBOARD_PAGE_SIZE = env_int("DASHBOARD_PAGE_SIZE", 20)
DASHBOARD_PAGE_SIZE_CHOICES = sorted(
    {int(size) for size in env_list("DASHBOARD_PAGE_SIZE_CHOICES", ["10", "20", "50", "100"])}
    | {DASHBOARD_PAGE_SIZE}
)
# Most points per model sent to a page's charts; longer series are downsampled (extremes kept).
PAGE_CHART_MAX_POINTS = env_int("PAGE_CHART_MAX_POINTS", 300)
# Largest grid (cells per side) of a spectrogram or image heatmap sent to a page; larger matrices
# are averaged down block by block.
PAGE_HEATMAP_MAX_CELLS = env_int("PAGE_HEATMAP_MAX_CELLS", 128)
# Characters of a model's raw result shown on its report page; the rest is cut (heatmaps can be
# megabytes). The whole result stays available from the API.
PAGE_RAW_RESULT_MAX_CHARS = env_int("PAGE_RAW_RESULT_MAX_CHARS", 200_000)

# --- Logging --------------------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# plain | json (one JSON object per line, with the request id).
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "drishtiksha.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "drishtiksha.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Accounts and authentication ------------------------------------------------------------------

# Expired refresh-token records are dropped daily; they can no longer be used or revoked.
CELERY_BEAT_SCHEDULE["flush-expired-tokens"] = {
    "task": "accounts.expired_tokens_flush",
    "schedule": float(24 * 60 * 60),
}

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

SESSION_COOKIE_SAMESITE = "Lax"

# Login also sets the access token as an httpOnly cookie, which the browser extension reads; its
# name is fixed by the existing clients.
AUTH_COOKIE_NAME = "authToken"
# Lax: sent by the browser to this site's API from pages of the same site (any port or subdomain,
# e.g. a single-page app on localhost:5173 calling localhost:8000) but not from other sites.
# A single-page app on another site needs None, which browsers accept only on a Secure cookie;
# unsafe methods are then still refused unless the Origin is trusted or a CSRF token is sent.
AUTH_COOKIE_SAMESITE = env_str("AUTH_COOKIE_SAMESITE", "Lax").capitalize()
if AUTH_COOKIE_SAMESITE not in {"Lax", "Strict", "None"}:
    raise ImproperlyConfigured("AUTH_COOKIE_SAMESITE must be Lax, Strict or None.")
AUTH_COOKIE_DOMAIN = env_str("AUTH_COOKIE_DOMAIN") or None


def secure_cookies(*, default: bool) -> bool:
    """Whether the session, CSRF and authToken cookies are marked Secure (DJANGO_SECURE_COOKIES).

    Each environment picks the default (on over HTTPS in production, off on development's plain
    http), so the SameSite rule that depends on the flag is checked here, once it is known.
    """
    secure = env_bool("DJANGO_SECURE_COOKIES", default)
    if AUTH_COOKIE_SAMESITE == "None" and not secure:
        raise ImproperlyConfigured(
            "AUTH_COOKIE_SAMESITE=None needs Secure cookies"
            " (DJANGO_SECURE_COOKIES=true, over HTTPS)."
        )
    return secure


SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_TOKEN_LIFETIME_MINUTES", 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_TOKEN_LIFETIME_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    # Tokens carry a hash of the password: changing or resetting it revokes every access token too.
    "CHECK_REVOKE_TOKEN": True,
}

# Unset, tokens are signed with SECRET_KEY (simplejwt's default), whichever environment sets it.
if env_str("JWT_SIGNING_KEY"):
    SIMPLE_JWT["SIGNING_KEY"] = env_str("JWT_SIGNING_KEY")

# Failed logins per (client address, email) within the window before further attempts get 429.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 10 * 60)

PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT_SECONDS", 24 * 60 * 60)
# Origin used in links sent by email (e.g. https://drishtiksha.example); unset: the request's own.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL")

# --- Email ----------------------------------------------------------------------------------------

# Printed to the console unless an SMTP host is configured (or EMAIL_BACKEND names another backend).
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_SECONDS", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Drishtiksha <no-reply@localhost>")

# --- API (/api/v1) --------------------------------------------------------------------------------

API_DEFAULT_PAGE_SIZE = env_int("API_DEFAULT_PAGE_SIZE", 20)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 100)
# GET /media without page or pageSize answers a bare array (what clients of the unpaged API
# iterate) of at most this many items, newest first; X-Total-Count tells how many there are.
MEDIA_LIST_UNPAGED_LIMIT = env_int("MEDIA_LIST_UNPAGED_LIMIT", 500)
API_SIGNUP_THROTTLE_RATE = env_str("API_SIGNUP_THROTTLE_RATE", "20/hour")
API_PASSWORD_RESET_THROTTLE_RATE = env_str("API_PASSWORD_RESET_THROTTLE_RATE", "5/hour")
# Reverse proxies in front of the app that append to X-Forwarded-For. 0 trusts only the socket
# address; trusting more than there are lets callers pick their own address and dodge throttles.
API_TRUSTED_PROXY_COUNT = env_int("API_TRUSTED_PROXY_COUNT", 0)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["drishtiksha.api.renderers.EnvelopeJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "drishtiksha.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "drishtiksha.api.authentication.CookieJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "drishtiksha.api.pagination.EnvelopePagination",
    "DEFAULT_SCHEMA_CLASS": "drishtiksha.api.schema.EnvelopeAutoSchema",
    "EXCEPTION_HANDLER": "drishtiksha.api.exceptions.api_exception_handler",
    "NUM_PROXIES": API_TRUSTED_PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Drishtiksha API",
    "DESCRIPTION": (
        "Deepfake analysis. Every answer is an envelope: `{statusCode, data, message, success}` on"
        " success, `{statusCode, success: false, message, errors: [{field, message}]}` on error."
        " Authenticate with `Authorization: Bearer <token>`, the `authToken` cookie or a session;"
        " integrations may send `Authorization: Api-Key <key>` instead."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Documentation assets come from the drf-spectacular-sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # One named schema per vocabulary, so that `status` of a run and of an analysis stay distinct.
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "media_analysis.choices.RunStatus",
        "AnalysisStatusEnum": "media_analysis.choices.AnalysisStatus",
        "MediaTypeEnum": "media_analysis.choices.MediaType",
        "PredictionEnum": "media_analysis.choices.Prediction",
        "VerdictEnum": "media_analysis.choices.Verdict",
    },
}

# --- Link ingestion -------------------------------------------------------------------------------

# Networks (comma-separated CIDRs) that fetched URLs may reach although they are not public, e.g.
# an operator's own media server. Empty: only public internet addresses. Addresses inside them
# may also use any port.
URL_FETCH_ALLOWED_NETWORKS = env_list("URL_FETCH_ALLOWED_NETWORKS")
# Ports a fetched URL may name, besides its scheme's own (80, 443).
URL_FETCH_ALLOWED_PORTS = [
    int(port) for port in env_list("URL_FETCH_ALLOWED_PORTS", ["8080", "8443"])
]
# Redirects followed per link (each hop is checked again), and the network timeouts of each hop.
LINK_FETCH_MAX_REDIRECTS = env_int("LINK_FETCH_MAX_REDIRECTS", 5)
LINK_FETCH_CONNECT_TIMEOUT_SECONDS = env_float("LINK_FETCH_CONNECT_TIMEOUT_SECONDS", 10.0)
LINK_FETCH_READ_TIMEOUT_SECONDS = env_float("LINK_FETCH_READ_TIMEOUT_SECONDS", 30.0)
# The import's bytesReceived is written after every this many bytes of a download.
LINK_FETCH_PROGRESS_BYTES = env_int("LINK_FETCH_PROGRESS_BYTES", 4 * 1024 * 1024)
# Longest a link's download (and its checks) may take in the worker before it is marked failed.
LINK_FETCH_TASK_SOFT_TIME_LIMIT_SECONDS = env_int("LINK_FETCH_TASK_SOFT_TIME_LIMIT_SECONDS", 900)
LINK_FETCH_TASK_TIME_LIMIT_SECONDS = env_int(
    "LINK_FETCH_TASK_TIME_LIMIT_SECONDS", LINK_FETCH_TASK_SOFT_TIME_LIMIT_SECONDS + 60
)
# The page of a link import reloads itself this often (seconds) until the download is over.
LINK_IMPORT_PAGE_REFRESH_SECONDS = env_int("LINK_IMPORT_PAGE_REFRESH_SECONDS", 3)

# --- API keys -------------------------------------------------------------------------------------

# Active (unrevoked) keys one user may hold at a time.
API_KEYS_MAX_PER_USER = env_int("API_KEYS_MAX_PER_USER", 20)
# `last_used_at` is written at most this often per key, so most requests cost no write.
API_KEY_LAST_USED_RESOLUTION_SECONDS = env_int("API_KEY_LAST_USED_RESOLUTION_SECONDS", 60)
# One API_KEY_USED audit row per key per this many seconds, not one per request.
API_KEY_USE_AUDIT_INTERVAL_SECONDS = env_int("API_KEY_USE_AUDIT_INTERVAL_SECONDS", 3600)

# --- Webhooks -------------------------------------------------------------------------------------

# Plain http:// webhook URLs are refused unless this is on (local testing only).
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_MAX_PER_USER = env_int("WEBHOOK_MAX_PER_USER", 10)
# Attempts per delivery (the first included), then FAILED; retries back off exponentially.
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6)
WEBHOOK_RETRY_BACKOFF_SECONDS = env_float("WEBHOOK_RETRY_BACKOFF_SECONDS", 30.0)
WEBHOOK_RETRY_BACKOFF_MAX_SECONDS = env_float("WEBHOOK_RETRY_BACKOFF_MAX_SECONDS", 60 * 60.0)
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env_float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5.0)
WEBHOOK_READ_TIMEOUT_SECONDS = env_float("WEBHOOK_READ_TIMEOUT_SECONDS", 10.0)
# Above both timeouts, so that the task limit only ever stops a hung worker.
WEBHOOK_TASK_TIME_LIMIT_SECONDS = env_int("WEBHOOK_TASK_TIME_LIMIT_SECONDS", 60)
WEBHOOK_DELIVERIES_PAGE_SIZE = env_int("WEBHOOK_DELIVERIES_PAGE_SIZE", 25)
# A pending delivery overdue by this long lost its message (broker down at enqueue, a worker
# killed mid-attempt); the sweep sends it again, every interval, at most a batch at a time.
WEBHOOK_RESUME_AFTER_SECONDS = env_int("WEBHOOK_RESUME_AFTER_SECONDS", 5 * 60)
WEBHOOK_RESUME_INTERVAL_SECONDS = env_int("WEBHOOK_RESUME_INTERVAL_SECONDS", 5 * 60)
WEBHOOK_RESUME_BATCH_SIZE = env_int("WEBHOOK_RESUME_BATCH_SIZE", 500)
CELERY_TASK_ROUTES["integrations.*"] = {"queue": HOUSEKEEPING_QUEUE}
CELERY_BEAT_SCHEDULE["resume-webhook-deliveries"] = {
    "task": "integrations.deliveries_resume",
    "schedule": float(WEBHOOK_RESUME_INTERVAL_SECONDS),
    "options": {"expires": float(WEBHOOK_RESUME_INTERVAL_SECONDS)},
}

# --- Share links ----------------------------------------------------------------------------------

# Read-only links to a run's report and PDF: their longest and default lifetime, how many one run
# may have active at once, and how often one link's openings are written to the audit trail.
SHARE_LINK_MAX_DAYS = env_int("SHARE_LINK_MAX_DAYS", 30)
SHARE_LINK_DEFAULT_DAYS = min(env_int("SHARE_LINK_DEFAULT_DAYS", 7), SHARE_LINK_MAX_DAYS)
SHARE_LINK_MAX_ACTIVE_PER_RUN = env_int("SHARE_LINK_MAX_ACTIVE_PER_RUN", 10)
SHARE_LINK_VIEW_AUDIT_INTERVAL_SECONDS = env_int("SHARE_LINK_VIEW_AUDIT_INTERVAL_SECONDS", 3600)
# Longest side, in pixels, of the pictures (thumbnail, heatmap, spectrogram) drawn into a PDF.
REPORT_IMAGE_MAX_PIXELS = env_int("REPORT_IMAGE_MAX_PIXELS", 800)

# --- Audit trail ----------------------------------------------------------------------------------

# Audit rows older than this many days are deleted by a daily beat task (0: keep them forever).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365)
# Rows per page of /activity/ (GET /api/v1/audit pages with API_DEFAULT_PAGE_SIZE).
AUDIT_PAGE_SIZE = env_int("AUDIT_PAGE_SIZE", 50)
# Rows one purge statement deletes, so a first purge of years of rows does not hold one huge lock.
AUDIT_PURGE_BATCH_SIZE = env_int("AUDIT_PURGE_BATCH_SIZE", 5000)
CELERY_TASK_ROUTES["audit.*"] = {"queue": HOUSEKEEPING_QUEUE}
CELERY_BEAT_SCHEDULE["purge-old-audit-events"] = {
    "task": "audit.audit_events_purge",
    "schedule": float(24 * 60 * 60),
}

# --- Notifications --------------------------------------------------------------------------------

# Seconds a "run finished" toast stays on screen once the tab is visible (0: until dismissed).
NOTIFICATION_TOAST_SECONDS = env_int("NOTIFICATION_TOAST_SECONDS", 12)

# --- Batch upload ---------------------------------------------------------------------------------

# Most files one upload batch may hold: files chosen together on the upload page, and the parts of
# one POST /api/v1/media/batch. More are refused before any is stored. Django itself refuses a
# body of more than DATA_UPLOAD_MAX_NUMBER_FILES (100) files whatever this says.
UPLOAD_BATCH_MAX_FILES = env_int("UPLOAD_BATCH_MAX_FILES", 20)
# Largest body of one POST /api/v1/media/batch in bytes (default 2 GiB), refused with 413 as it
# arrives like any other oversized body; each file in it still obeys MAX_UPLOAD_SIZE.
UPLOAD_BATCH_MAX_BYTES = env_int("UPLOAD_BATCH_MAX_BYTES", 2 * 1024 * 1024 * 1024)
# Files the upload page sends at the same time, one request each.
UPLOAD_BATCH_CONCURRENCY = env_int("UPLOAD_BATCH_CONCURRENCY", 2)
