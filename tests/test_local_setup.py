"""One configuration for every command (.env), and `make run` making its own database."""

import secrets

import pytest
from django.conf import settings

from config.local_setup import env_file_update
from tests.processes import free_port, manage, project_env

SHOW_DATABASE = "from django.db import connection; print(connection.settings_dict['NAME'])"


def _shown_database(env) -> str:
    result = manage("shell", "-c", SHOW_DATABASE, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_env_file_keeps_other_lines_and_rewrites_in_place(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nLOG_LEVEL=DEBUG\nPORT=8000\n")

    assert env_file_update(env_file, {"PORT": "9000", "REDIS_URL": "redis://h:6379/1"}) == {
        "PORT": "9000",
        "REDIS_URL": "redis://h:6379/1",
    }
    assert env_file.read_text() == (
        "# mine\nLOG_LEVEL=DEBUG\nPORT=9000\nREDIS_URL=redis://h:6379/1\n"
    )
    assert env_file_update(env_file, {"PORT": "9000"}) == {}
    with pytest.raises(ValueError, match="cannot be kept in .env"):
        env_file_update(env_file, {"PUBLIC_BASE_URL": "http://a b"})


def test_a_command_in_another_shell_works_on_the_database_make_run_used(tmp_path):
    server_database = tmp_path / "server.sqlite3"
    env = project_env(ENV_FILE=str(tmp_path / ".env"), VAR_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)

    # As `make run` does first, with the variables it was given.
    saved = manage(
        "env_file_save",
        "DATABASE_URL",
        "PORT",
        "REDIS_URL",
        env={**env, "DATABASE_URL": f"sqlite:///{server_database}", "PORT": "18123"},
    )
    assert saved.returncode == 0, saved.stderr
    assert f"DATABASE_URL=sqlite:///{server_database}" in saved.stdout
    assert "Every command here reads it" in saved.stdout
    # Unset variables are not written: without REDIS_URL the embedded broker stays.
    assert "REDIS_URL" not in (tmp_path / ".env").read_text()

    # A later shell without the variable: the same database as the server.
    assert _shown_database(env) == str(server_database)
    # A variable set in the environment wins over the file.
    other = tmp_path / "other.sqlite3"
    assert _shown_database({**env, "DATABASE_URL": f"sqlite:///{other}"}) == str(other)


def test_saved_urls_are_printed_without_their_password(tmp_path):
    env = project_env(ENV_FILE=str(tmp_path / ".env"), VAR_DIR=str(tmp_path))
    url = "postgres://shop:s3cret@db.example:5432/shop"
    result = manage("env_file_save", "DATABASE_URL", env={**env, "DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert "postgres://shop:***@db.example:5432/shop" in result.stdout
    assert "s3cret" not in result.stdout
    assert f"DATABASE_URL={url}" in (tmp_path / ".env").read_text()


def test_the_sqlite_folder_is_made(tmp_path):
    database = tmp_path / "new" / "folder" / "db.sqlite3"
    env = project_env(DATABASE_URL=f"sqlite:///{database}", VAR_DIR=str(tmp_path), REDIS_URL="")
    result = manage("database_create", env=env)
    assert result.returncode == 0, result.stderr
    assert database.parent.is_dir()


def _postgres_url(*, name: str, user: str | None = None, port: int | None = None) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{user or db['USER']}@{db['HOST']}:{port or db['PORT'] or 5432}/{name}"


def _postgres_admin():
    import psycopg

    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or None,
        user=db["USER"],
        dbname="postgres",
        autocommit=True,
    )


@pytest.mark.postgres
def test_a_missing_postgres_database_is_created_once(tmp_path):
    name = f"coma_created_{secrets.token_hex(4)}"
    env = project_env(DATABASE_URL=_postgres_url(name=name), VAR_DIR=str(tmp_path))
    try:
        first = manage("database_create", env=env)
        assert first.returncode == 0, first.stderr
        assert f'Created the PostgreSQL database "{name}"' in first.stdout
        second = manage("database_create", env=env)
        assert second.returncode == 0, second.stderr
        assert second.stdout == ""
        assert manage("migrate", "--noinput", env=env).returncode == 0
    finally:
        with _postgres_admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_a_user_who_may_not_create_it_is_told_how_in_one_line(tmp_path):
    role = f"coma_nocreate_{secrets.token_hex(4)}"
    name = f"coma_missing_{secrets.token_hex(4)}"
    with _postgres_admin() as connection:
        connection.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        env = project_env(DATABASE_URL=_postgres_url(name=name, user=role), VAR_DIR=str(tmp_path))
        result = manage("database_create", env=env)
        assert result.returncode != 0
        message = result.stderr.strip()
        assert "\n" not in message and "Traceback" not in message
        assert f'PostgreSQL has no database "{name}" and {role} may not create it' in message
        assert f"createdb -h 127.0.0.1 -p 5432 -U {role} {name}" in message
    finally:
        with _postgres_admin() as connection:
            connection.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_a_postgres_server_that_is_not_there_is_one_line(tmp_path):
    env = project_env(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/coma", VAR_DIR=str(tmp_path)
    )
    result = manage("database_create", env=env)
    assert result.returncode != 0
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("CommandError: PostgreSQL at 127.0.0.1:")
    assert "cannot be reached" in message
    assert "unset DATABASE_URL (and remove it from .env) to run on SQLite" in message
