"""The floor: a bare Django project doing the least of the same work, measured beside the app."""

import environ

env = environ.Env()

SECRET_KEY = "bench-bare-only"  # noqa: S105 (never served outside the benchmark)
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.bare.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES = {"default": env.db_url("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 60
USE_TZ = True
