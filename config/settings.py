"""One settings module; every deployment knob comes from the environment.

Development defaults make `make run` work with nothing but Python (SQLite, eager Celery).
Production (DJANGO_DEBUG=false) refuses to start without a real SECRET_KEY and ALLOWED_HOSTS.
"""

import datetime as dt
import json
import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"The environment variable {name} is required in production.")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Values once printed in this README as the development defaults: anyone could sign with them.
PUBLISHED_SECRETS = {
    "DJANGO_SECRET_KEY": {"dev-insecure-secret-key-do-not-use-in-production"},
    "TWILIO_AUTH_TOKEN": {"dev-twilio-auth-token"},
    "WEBHOOK_SIGNING_SECRET": {"dev-webhook-secret"},
}


def development_secrets(path: Path) -> dict[str, str]:
    """This install's development secrets: random, written once (mode 0600, git-ignored), then read."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        pass
    generated = {name: secrets.token_urlsafe(48) for name in PUBLISHED_SECRETS}
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(generated, file, indent=2)
    try:
        os.link(temporary, path)  # fails if another process (runserver's reloader) got there first
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return json.loads(path.read_text())


def env_secret(name: str, development_default: dict[str, str] | None, production_default: str | None) -> str:
    value = env_str(name, development_default[name] if development_default else production_default)
    if value in PUBLISHED_SECRETS[name]:
        raise ImproperlyConfigured(
            f"{name} is a published development value; unset it (development) or set a secret of your own."
        )
    return value


DEBUG = env_bool("DJANGO_DEBUG", True)
DEV_SECRETS = (
    development_secrets(Path(os.environ.get("DJANGO_DEV_SECRETS_FILE", BASE_DIR / ".dev-secrets.json")))
    if DEBUG
    else None
)

# A missing key fails fast in production; development gets this install's own random key.
SECRET_KEY = env_secret("DJANGO_SECRET_KEY", DEV_SECRETS, None)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS is required in production.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here, not a CDN
    "import_export",
    "axes",
    "csp",
    "contacts",
    "sendinglists",
    "engagement",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # early: request.csp_nonce exists for every template
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into its 429 answer
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

# No DATABASE_URL: the embedded SQLite file, so a new user needs nothing but Python.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                # WAL lets the dev server read while an eager import writes; a busy wait instead of
                # "database is locked" errors when two requests write at once.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# No REDIS_URL: Celery runs every task eagerly in the calling process (same code, no broker).
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the task on the queue, to run again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "sms-contacts")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_S", 3600)}
CELERY_BEAT_SCHEDULE: dict = {
    "squash-list-status-counts": {
        "task": "sendinglists.tasks.squash_list_status_counts",
        "schedule": env_int("COUNT_SQUASH_INTERVAL_S", 60),
    },
    # Runs inbound-message follow-ups whose task was lost (a killed worker, a broker outage).
    "inbound-follow-up-sweep": {
        "task": "engagement.tasks.inbound_follow_up_sweep",
        "schedule": env_int("FOLLOW_UP_SWEEP_INTERVAL_S", 60),
    },
    # Applies delivery reports that arrived before their message's send committed.
    "early-delivery-reports-sweep": {
        "task": "engagement.tasks.early_delivery_reports_sweep",
        "schedule": env_int("EARLY_REPORT_SWEEP_INTERVAL_S", 60),
    },
    # Re-enqueues the chunks of an import whose worker died (chunks are idempotent).
    "imports-resume-stalled": {
        "task": "sendinglists.imports.tasks.imports_resume_stalled_task",
        "schedule": env_int("IMPORT_STALL_CHECK_INTERVAL_S", 300),
    },
}

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# Login throttling (django-axes) on every authenticate(), so on the admin login, the operators' one:
# after AXES_FAILURE_LIMIT failures for one username from one address, that pair is refused (429)
# until AXES_COOLOFF_S have passed since the last failure; other users and addresses are unaffected.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before any password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(seconds=env_int("AXES_COOLOFF_S", 15 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Its start-up banner printed on every manage.py command (import_contacts output included); lockouts
# are still logged as warnings.
AXES_VERBOSE = False
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"

# Uploads larger than this are refused with a clear message (CSV imports of millions of rows).
IMPORT_MAX_UPLOAD_BYTES = env_int("IMPORT_MAX_UPLOAD_BYTES", 250 * 1024 * 1024)
IMPORT_CHUNK_ROWS = env_int("IMPORT_CHUNK_ROWS", 20_000)
# A wider file is refused at upload (its mapping form alone would be 3 inputs per column).
IMPORT_MAX_COLUMNS = env_int("IMPORT_MAX_COLUMNS", 500)
# Custom fields per sending list: every contact page, filter form and export reads them all.
CUSTOM_FIELDS_PER_LIST_MAX = env_int("CUSTOM_FIELDS_PER_LIST_MAX", 100)
# A running import without progress for this long has its unapplied chunks enqueued again.
IMPORT_STALLED_AFTER_S = env_int("IMPORT_STALLED_AFTER_S", 900)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # larger uploads stream to a temporary file
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
# The opt-out watch (sendinglists.audiences.optout) divides opt-outs by sends, which engagement
# counts: named here so that sendinglists never imports engagement (contacts <- sendinglists <-
# engagement). Empty: no sends, every rate unknown.
OPT_OUT_SEND_COUNTER = "engagement.selectors.sends_by_list_day"

# Inbound messages and replies.
# Unset in production: every webhook is refused (engagement/webhooks.py logs why).
TWILIO_AUTH_TOKEN = env_secret("TWILIO_AUTH_TOKEN", DEV_SECRETS, "")
WEBHOOK_SIGNING_SECRET = env_secret("WEBHOOK_SIGNING_SECRET", DEV_SECRETS, "")
WEBHOOK_REPLAY_WINDOW_S = env_int("WEBHOOK_REPLAY_WINDOW_S", 300)
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
SMS_BACKEND = os.environ.get("SMS_BACKEND", "engagement.backends.console.ConsoleBackend")
# engagement.backends.twilio.TwilioBackend sends with these (and TWILIO_AUTH_TOKEN).
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL", "https://api.twilio.com")
BAD_RESPONSE_FAILURE_LIMIT = env_int("BAD_RESPONSE_FAILURE_LIMIT", 3)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_RATES": {"api_token": os.environ.get("API_THROTTLE_RATE", "6000/min")},
    # The API: per-consumer tokens (no sessions, so no CSRF), per-token throttling, one error shape.
    "DEFAULT_AUTHENTICATION_CLASSES": ["sendinglists.api.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["sendinglists.api.permissions.HasApiToken"],
    "DEFAULT_THROTTLE_CLASSES": ["sendinglists.api.throttling.ApiTokenRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "sendinglists.api.pagination.KeysetPagination",
    "EXCEPTION_HANDLER": "sendinglists.api.errors.api_exception_handler",
    # DRF's JSON, written by orjson (sendinglists/api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["sendinglists.api.renderers.ApiJSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SMS contacts API",
    "DESCRIPTION": "Contacts, sending lists, memberships, custom fields, tags and imports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,  # separate request/response components: generated clients type both
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {
        "MembershipStatusEnum": "sendinglists.choices.MembershipStatus",
        "ContactStatusEnum": "sendinglists.choices.ContactStatus",
        "BulkItemStatusEnum": "sendinglists.contacts.api.serializers.BULK_ITEM_STATUSES",
        "WithheldFieldEnum": "sendinglists.api.permissions.WITHHELD_FIELDS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "sendinglists.api.schema.add_error_responses",
        "sendinglists.api.schema.close_request_bodies",
    ],
}

# HTTPS-ready: secure cookies and HSTS whenever DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Scripts only from this site: static files, or inline <script nonce="{{ request.csp_nonce }}">;
# no inline event handlers (forms ask with data-confirm, static/js/confirm.js). Styles allow inline:
# the pages, the admin and Swagger UI use style attributes and <style> blocks, and CSS cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# The debug page and error reports star out passwords inside URLs (DATABASE_URL, REDIS_URL) too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.CredentialsHidingExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
