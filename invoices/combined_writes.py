"""Several writes sent as one statement, for the paths every invoice and callback takes.

On PostgreSQL a statement may hold data-modifying CTEs, and it is atomic by
itself: `WITH a AS (INSERT ...) INSERT ...` writes both rows or neither, in
one round trip instead of four (BEGIN, two writes, COMMIT). Profiling showed
those round trips as much of invoice creation and callback delivery as the
rest of their work. Rows are written exactly as `Model.save()` and
`QuerySet.update()` would write them: the same fields, the same
`pre_save` defaults and each field's own `get_db_prep_save`; no
signals are sent (none are used) and an auto primary key is not read back.
Other databases run the same writes one by one in a transaction.

Every name in the SQL comes from the models' metadata and every value is a
parameter, so the statements are built with f-strings safely (ruff's S608).
"""

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Field,
    Model,
)


def can_combine() -> bool:
    return connection.vendor == "postgresql"


class Insert:
    def __init__(self, instance: Model):
        self.instance = instance

    def sql(self) -> tuple[str, list[Any]]:
        sql, fields = _insert_statement(type(self.instance), connection.vendor)
        # What save() would write: each field's pre_save value, prepared by the field.
        values = [
            field.get_db_prep_save(field.pre_save(self.instance, True), connection)
            for field in fields
        ]
        return sql, values

    def run_alone(self) -> None:
        self.instance.save(force_insert=True)

    def written(self) -> None:
        # An auto primary key is not read back: such an instance stays "adding",
        # so saving it again would insert, never silently update another row.
        if self.instance.pk is not None:
            self.instance._state.adding = False
            self.instance._state.db = connection.alias


class Update:
    def __init__(self, model: type[Model], pk: Any, changes: dict[str, Any]):
        self.model, self.pk, self.changes = model, pk, changes

    def sql(self) -> tuple[str, list[Any]]:
        sql, fields = _update_statement(self.model, tuple(self.changes), connection.vendor)
        values = [field.get_db_prep_save(self.changes[field.name], connection) for field in fields]
        return sql, [*values, self.model._meta.pk.get_db_prep_value(self.pk, connection)]

    def run_alone(self) -> None:
        self.model._default_manager.filter(pk=self.pk).update(**self.changes)

    def written(self) -> None:
        pass


# The text of a statement depends only on the model, the columns and the database:
# built once per process, as building it cost about as much as sending it.
@functools.cache
def _insert_statement(model: type[Model], vendor: str) -> tuple[str, "list[Field[Any, Any]]"]:
    """The statement, and the field of each of its columns."""
    meta = model._meta
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    return sql, fields


@functools.cache
def _update_statement(
    model: type[Model], names: tuple[str, ...], vendor: str
) -> tuple[str, "list[Field[Any, Any]]"]:
    meta = model._meta
    fields: list[Field[Any, Any]] = []
    for name in names:
        field = meta.get_field(name)
        if not isinstance(field, Field):
            raise TypeError(f"{model.__name__}.{name} is a relation, not a column")
        fields.append(field)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    return sql, fields


def write_together(writes: Sequence[Insert | Update]) -> None:
    """All of these writes or none; one round trip on PostgreSQL."""
    if not can_combine():
        with transaction.atomic():
            for write in writes:
                write.run_alone()
        for write in writes:
            write.written()
        return
    parts = [write.sql() for write in writes]
    *leading, (last_sql, last_values) = parts
    ctes = ", ".join(f"write_{number} AS ({sql})" for number, (sql, _) in enumerate(leading))
    values = [value for _, part_values in leading for value in part_values] + last_values
    statement = f"WITH {ctes} {last_sql}" if leading else last_sql
    if connection.in_atomic_block:
        # Inside the caller's transaction, a savepoint: a failed statement (a
        # unique key taken, say) must leave that transaction usable, as atomic() does.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, values)
    else:
        with connection.cursor() as cursor:
            cursor.execute(statement, values)
    for write in writes:
        write.written()
