"""Configuration: production start-up checks, check --deploy, broker switch, .env.example.

Each test runs Django in a subprocess with a clean environment (no .env file), the way a
fresh production host would start it.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "PRODUCTION": "true",
    "SECRET_KEY": "prod-" + "k7Qz" * 14,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://portal:pw@db.example.com:5432/mlconnector",
}


def run(args, **env):
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ENV_FILE": "/dev/null",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    clean.update(env)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def settings_in_subprocess(names, **env):
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    result = run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "DATABASE_URL"])
def test_production_refuses_to_start_without_a_required_variable(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = run(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"Set the {missing} environment variable" in result.stderr


def test_production_starts_with_every_required_variable():
    result = run(["manage.py", "check"], **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr


def test_a_malformed_encryption_key_fails_at_start_up_without_echoing_it():
    result = run(["manage.py", "check"], **{**PRODUCTION_ENV, "FIELD_ENCRYPTION_KEYS": "not-a-fernet-key-xyzzy"})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS: entry 1 is not a Fernet key" in result.stderr
    assert "xyzzy" not in result.stderr


def deploy_warnings(**env):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "CRITICAL"], **env)
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"\(security\.[WE]\d+\)", result.stdout + result.stderr))


# Warnings that only a TLS certificate in front of the app can settle (HTTPS redirect, HSTS, secure cookies).
TLS_WARNINGS = {"(security.W004)", "(security.W008)", "(security.W012)", "(security.W016)", "(security.W021)"}


def test_check_deploy_with_production_settings_is_clean():
    assert deploy_warnings(**PRODUCTION_ENV) == set()


def test_check_deploy_without_https_redirect_warns_only_about_tls():
    warnings = deploy_warnings(**PRODUCTION_ENV, SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    assert warnings and warnings <= TLS_WARNINGS


def test_check_deploy_flags_debug_in_production():
    # the check is live: it does find a real problem
    assert "(security.W018)" in deploy_warnings(**PRODUCTION_ENV, DEBUG="true")


def test_development_defaults():
    values = settings_in_subprocess(["DEBUG", "DATABASES", "EMAIL_BACKEND", "Q_CLUSTER", "CACHES", "TIME_ZONE"])
    assert values["DEBUG"] is False
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["EMAIL_BACKEND"] == "portal.mail.StderrConsoleBackend"  # console mail, on stderr
    assert values["Q_CLUSTER"]["orm"] == "default" and "redis" not in values["Q_CLUSTER"]
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert values["TIME_ZONE"] == "UTC"


def test_redis_url_switches_broker_and_cache_to_redis():
    values = settings_in_subprocess(["Q_CLUSTER", "CACHES"], REDIS_URL="redis://cache.example.com:6379/2")
    assert values["Q_CLUSTER"]["redis"] == "redis://cache.example.com:6379/2"
    assert "orm" not in values["Q_CLUSTER"]
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert values["CACHES"]["default"]["LOCATION"] == "redis://cache.example.com:6379/2"


def test_environment_variables_are_read():
    values = settings_in_subprocess(
        ["DATABASES", "EMAIL_BACKEND", "EMAIL_HOST", "TIME_ZONE", "SECRET_KEY_FALLBACKS", "Q_CLUSTER", "ALLOWED_HOSTS"],
        DATABASE_URL="postgres://u:p@db.example.com:5432/x",
        EMAIL_URL="smtp+tls://u:p@smtp.example.com:587",
        TIME_ZONE="Europe/Berlin",
        SECRET_KEY_FALLBACKS="old1,old2",
        Q_TIMEOUT="60",
        Q_WORKERS="5",
        ALLOWED_HOSTS="a.example,b.example",
    )
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend" and values["EMAIL_HOST"] == "smtp.example.com"
    assert values["TIME_ZONE"] == "Europe/Berlin"
    assert values["SECRET_KEY_FALLBACKS"] == ["old1", "old2"]
    assert values["Q_CLUSTER"]["timeout"] == 60 and values["Q_CLUSTER"]["workers"] == 5
    assert values["Q_CLUSTER"]["retry"] > values["Q_CLUSTER"]["timeout"]
    assert values["ALLOWED_HOSTS"] == ["a.example", "b.example"]


def test_queue_never_redelivers_a_running_task():
    # django-q2 hands a task to another worker after `retry` seconds: it must outlast `timeout`.
    assert settings.Q_CLUSTER["retry"] > settings.Q_CLUSTER["timeout"]
    assert settings.Q_CLUSTER["max_attempts"] == 1


def test_env_example_documents_every_variable_settings_reads():
    source = (ROOT / "portal" / "settings.py").read_text()
    read = set(re.findall(r'(?:env(?:\.\w+)?|required)\(\s*"([A-Z][A-Z0-9_]+)"', source))
    assert {"DATABASE_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "REDIS_URL", "EMAIL_URL", "TIME_ZONE", "DEBUG"} <= read
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    assert read - documented == set(), "document these in .env.example"
    assert documented - read == set(), ".env.example lists variables settings.py does not read"


def test_readme_configuration_table_lists_every_variable():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    in_table = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]+)`", readme, flags=re.M))
    assert documented - in_table == set()
