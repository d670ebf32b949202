"""What `make run` does before it starts the processes: remember its settings, make its database.

Plain functions over settings and files (no models), so they run before `migrate`.
"""

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit, urlunsplit

_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


class DatabaseSetupError(Exception):
    """The database cannot be made ready; the message says in one line what to do."""


class _ConnectParams(TypedDict):
    """What psycopg.connect is given besides the database name (None: libpq's default)."""

    host: str | None
    port: str | int | None
    user: str | None
    password: str | None
    connect_timeout: int


def env_file_update(path: Path, values: Mapping[str, str]) -> dict[str, str]:
    """Write `values` into the .env file at `path`, keeping its other lines; returns what changed.

    A name already in the file is rewritten in place, a new one is appended,
    and lines this does not manage (comments, other variables) stay as they are.
    """
    lines = path.read_text().splitlines() if path.exists() else []
    current = {}
    for index, line in enumerate(lines):
        if match := _ASSIGNMENT.match(line):
            current[match.group(1)] = index
    changed = {}
    for name, value in values.items():
        if any(character in value for character in "\n\r\"'#$ "):
            # django-environ would read such a value differently from how it was meant.
            raise ValueError(f"{name} cannot be kept in .env as written: {value!r}")
        line = f"{name}={value}"
        if name in current:
            if lines[current[name]] == line:
                continue
            lines[current[name]] = line
        else:
            lines.append(line)
        changed[name] = value
    if changed:
        if not path.exists():
            lines.insert(0, "# Written by `make run`: the settings every command here reads.")
            lines.insert(1, "# A variable set in the environment wins over this file.")
        path.write_text("\n".join(lines) + "\n")
    return changed


def url_for_display(value: str) -> str:
    """The value with a URL's password replaced, for printing."""
    parts = urlsplit(value)
    if not parts.password:
        return value
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def database_create_missing(database: Mapping[str, Any]) -> str | None:
    """Create the database `database` (a DATABASES entry) names if it is missing.

    Returns what was done, or None when nothing was needed. SQLite makes its
    file itself; only its folder must exist. On PostgreSQL the database is
    created through the server's `postgres` database, as `createdb` does.
    """
    engine = database["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        folder = Path(database["NAME"]).parent
        if folder.is_dir():
            return None
        folder.mkdir(parents=True)
        return f"made the folder {folder} for the SQLite file"
    if engine != "django.db.backends.postgresql":
        return None
    return _postgres_database_create_missing(database)


def _postgres_database_create_missing(database: Mapping[str, Any]) -> str | None:
    import psycopg
    from psycopg import sql

    name = database["NAME"]
    host = database.get("HOST") or "localhost"
    port = database.get("PORT") or 5432
    user = database.get("USER") or ""
    params: _ConnectParams = {
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
        "user": user or None,
        "password": database.get("PASSWORD") or None,
        "connect_timeout": 5,
    }
    try:
        with psycopg.connect(dbname=name, **params):
            return None
    except psycopg.OperationalError:
        pass  # missing, or the server is away: asking the server's own database tells which
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if exists:
                return None
            try:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.InsufficientPrivilege as error:
                raise DatabaseSetupError(
                    f'PostgreSQL has no database "{name}" and {user or "this user"} may not'
                    f" create it: run createdb -h {host} -p {port}"
                    f"{f' -U {user}' if user else ''} {name} (as a user who may), then make run"
                    " again."
                ) from error
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatabaseSetupError(
            f"PostgreSQL at {host}:{port} cannot be reached ({reason}): start it, or unset"
            " DATABASE_URL (and remove it from .env) to run on SQLite."
        ) from error
    return f'created the PostgreSQL database "{name}" on {host}:{port}'


def environment_values(names: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The named variables that are set (to something) in `environ`."""
    return {name: environ[name] for name in names if environ.get(name)}
