"""Settings, twelve-factor through django-environ (see .env.example for every variable).

Embedded defaults (SQLite, ORM broker, console e-mail, database cache) make a fresh
checkout run with nothing set; ``PRODUCTION=true`` turns the defaults off and makes a
missing required variable fail at start-up with its name.
"""

import datetime
import os
import tempfile
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env (see .env.example) fills in variables the environment does not set; ENV_FILE points elsewhere.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

PRODUCTION = env.bool("PRODUCTION", default=False)


def required(name, dev_default, cast=str):
    """A variable production must set; development falls back to a documented default."""
    if name in env.ENVIRON:
        return env.get_value(name, cast=cast)
    if PRODUCTION:
        raise ImproperlyConfigured(f"Set the {name} environment variable (required when PRODUCTION=true).")
    return dev_default


# Dev-only defaults: fixed so a fresh checkout's encrypted rows survive restarts; never used in production.
_DEV_SECRET = "dev-insecure-3x8bd7c6b1e54f0f8a2c1d9e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6"
_DEV_FIELD_KEY = "q2fXk3nJmYh6yZ0uGZ4r8s1v5cR9wQ2eT7aB3dF6gH0="

SECRET_KEY = required("SECRET_KEY", _DEV_SECRET)
# Production refuses what is written in this file or too weak to sign sessions: a message names the variable.
MIN_SECRET_KEY_LENGTH = 40
if PRODUCTION:
    if SECRET_KEY.strip() == _DEV_SECRET:
        raise ImproperlyConfigured("SECRET_KEY is the development key written in portal/settings.py.")
    if len(SECRET_KEY.strip()) < MIN_SECRET_KEY_LENGTH:
        raise ImproperlyConfigured(f"SECRET_KEY is empty or shorter than {MIN_SECRET_KEY_LENGTH} characters.")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Fernet keys for credentials at rest: the first encrypts, the rest only decrypt (rotation).
FIELD_ENCRYPTION_KEYS = [k.strip() for k in required("FIELD_ENCRYPTION_KEYS", _DEV_FIELD_KEY).split(",") if k.strip()]
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: give at least one Fernet key.")
if PRODUCTION and _DEV_FIELD_KEY in FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds the development key written in portal/settings.py.")
for _i, _key in enumerate(FIELD_ENCRYPTION_KEYS, 1):
    try:
        Fernet(_key.encode())
    except ValueError:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS: entry {_i} is not a Fernet key (32 url-safe base64-encoded bytes); generate one with: "
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        ) from None
# django-fernet-encrypted-fields reads SALT_KEY at import of its default fields; ours use the keys above.
SALT_KEY = FIELD_ENCRYPTION_KEYS

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = [h.strip() for h in required("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h.strip()]
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is empty: name the host names the portal answers to.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "import_export",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "portal",
    "audit",
    "mappings",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.api_errors.ApiJsonErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.two_factor.RequireTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: answers a locked-out login with 429
]

# Logins: django-axes locks an account, and separately the address it is tried from, after
# LOGIN_FAILURE_LIMIT failures, for LOGIN_LOCKOUT_MINUTES (portal.login_throttle).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=30)
LOGIN_TRUSTED_PROXIES = env.int("LOGIN_TRUSTED_PROXIES", default=0)
AXES_ENABLED = env.bool("LOGIN_THROTTLE", default=True)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = datetime.timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "portal.login_throttle.client_ip"
AXES_VERBOSE = False

# Two-factor (django-otp, TOTP): required in production for anyone who sees more than one tenant
# (portal.two_factor); OTP_REQUIRED overrides, e.g. to try it in development.
OTP_REQUIRED = env.bool("OTP_REQUIRED", default=PRODUCTION)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="ml-connector")

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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

DATABASES = {"default": env.db_url_config(required("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Workers and the web server share the file: wait for locks instead of failing at once.
    # WAL lets readers (the admin) work while a cycle writes; NORMAL sync is durable in WAL mode
    # except for the last commits before a power loss, which reconcile covers.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
    # Tests use a file too, not Django's shared-cache in-memory database: there a second thread's
    # write (a webhook request, a posting thread, a second cycle) fails at once with "table is
    # locked" instead of waiting, which production's file never does.
    # One file per test process, so two runs in one checkout do not drop each other's tables.
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", env.str("TEST_SQLITE_PATH", default=str(Path(tempfile.gettempdir()) / f"mlc-test-{os.getpid()}.sqlite3")))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "portal_cache"}}

# django-q2: a task must never be redelivered while it still runs, so retry > timeout.
Q_TIMEOUT = env.int("Q_TIMEOUT", default=1800)
# A cycle's lease on its flow lives this long unless renewed (every third of it): a crashed worker's
# flow is free again within this time.
LEASE_SECONDS = env.float("LEASE_SECONDS", default=45.0)
# A cycle takes no new work after this many seconds, well below Q_TIMEOUT, so no task is killed mid-post.
CYCLE_BUDGET_SECONDS = env.float("CYCLE_BUDGET_SECONDS", default=max(60.0, Q_TIMEOUT * 0.75))
Q_CLUSTER = {
    "name": "ml-connector",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": Q_TIMEOUT,
    "retry": Q_TIMEOUT + 600,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
if EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":  # noqa: F821 (set just above)
    EMAIL_BACKEND = "portal.mail.StderrConsoleBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ml-connector <alerts@ml-connector.local>")
# Alerts (integrations.ops.alerts, audit.alerts): links in e-mails start with PORTAL_BASE_URL; a tenant gets at
# most one held/failed digest per ALERT_QUIET_MINUTES; ALERT_HELD_PER_CYCLE keeps the immediate per-cycle held digest.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://localhost:8000")
ALERT_QUIET_MINUTES = env.int("ALERT_QUIET_MINUTES", default=60)
ALERT_HELD_PER_CYCLE = env.bool("ALERT_HELD_PER_CYCLE", default=True)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "admin:login"
# django-import-export strips a leading "=" from exported cells; portal.exports neutralises + - @ tab CR too.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
MESSAGE_STORAGE = "portal.messages.ScrubbingMessageStorage"  # admin messages never show a secret

# REST trigger: calls per token per window before 429 + Retry-After (integrations.api.guard); 0 = no limit.
TRIGGER_RATE_LIMIT = env.int("TRIGGER_RATE_LIMIT", default=30)
TRIGGER_RATE_WINDOW = env.int("TRIGGER_RATE_WINDOW", default=60)

# Security: secure cookies and HSTS in production (TLS terminates in front of the app).
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "portal.logging.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
