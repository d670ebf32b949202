"""Hot reads compiled to SQL once per process, then run again with new values.

Profiling the API read and the hosted page showed Django's SQL compiler
(select list, joins) costing more than the query itself: about 1 ms for an
invoice with its merchant and service, on every request, for SQL that never
changes. A `PreparedRead` builds its queryset once per database with markers
in place of the values, keeps the SQL, and afterwards only substitutes the
values and turns rows into model instances the way Django does (the same
converters, `from_db` and select_related populators). Values that change the
SQL's shape, such as booleans, select one of several compiled variants.
"""

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

_marker_numbers = itertools.count(1)


def _marker(value: Any) -> Any:
    """A stand-in value that cannot occur in a real query and survives the field's
    preparation unchanged, so its position among the compiled parameters can be found."""
    number = next(_marker_numbers)
    if isinstance(value, str):
        return f"\x00prepared-read-marker-{number}\x00"
    if isinstance(value, int):
        return -(2**62) - number
    raise TypeError(f"a prepared read takes str or int values, not {type(value).__name__}")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Each parameter is either a constant of the query or the name of a value.
    parameters: tuple[tuple[bool, Any], ...]
    model: type[Model]
    fields_start: int
    fields_end: int
    init_list: list[str]
    related_populators: list
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]
    # The type each parameter value was compiled with: the SQL fits only values of it
    # (None, say, would need IS NULL instead of =).
    value_types: dict[str, type]

    def check(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if isinstance(value, bool):
                continue
            expected = self.value_types.get(name)
            if expected is None or not isinstance(value, expected):
                raise TypeError(
                    f"prepared read: {name}={value!r}, compiled for "
                    f"{expected.__name__ if expected else 'no such value'}"
                )
        if len(values) - sum(isinstance(v, bool) for v in values.values()) != len(self.value_types):
            raise TypeError(f"prepared read: values {sorted(self.value_types)} are needed")

    def rows_to_instances(self, rows, connection) -> list[Model]:
        instances = []
        for row in rows:
            if self.converters:
                row = list(row)
                for position, functions, expression in self.converters:
                    value = row[position]
                    for convert in functions:
                        value = convert(value, expression, connection)
                    row[position] = value
            instance = self.model.from_db(
                connection.alias, self.init_list, row[self.fields_start : self.fields_end]
            )
            for populator in self.related_populators:
                populator.populate(row, instance)
            instances.append(instance)
        return instances


class PreparedRead:
    """`build(**values)` returns the queryset to run; call `.all(**values)` or `.first(**values)`.

    str and int values become query parameters; bool values choose the compiled variant.
    The queryset must yield model instances (no values(), annotations or prefetches).
    """

    def __init__(self, build: Callable[..., QuerySet]):
        self._build = build
        self._compiled: dict[tuple, _Compiled] = {}
        self._lock = threading.Lock()

    def all(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[Model]:
        connection = connections[using]
        compiled = self._compiled_for(connection, values)
        compiled.check(values)
        parameters = [
            values[value] if is_value else value for is_value, value in compiled.parameters
        ]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, parameters)
            rows = cursor.fetchall()
        return compiled.rows_to_instances(rows, connection)

    def first(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> Model | None:
        """The one instance found, or None: for lookups by a unique key or sliced to one row."""
        found = self.all(using=using, **values)
        if len(found) > 1:
            raise ValueError(
                f"prepared read: {len(found)} rows for a lookup of one; "
                "look up by a unique key or slice the queryset"
            )
        return found[0] if found else None

    def _compiled_for(self, connection, values: dict[str, Any]) -> _Compiled:
        variant = (
            connection.alias,
            connection.vendor,
            tuple(
                sorted((name, value) for name, value in values.items() if isinstance(value, bool))
            ),
        )
        compiled = self._compiled.get(variant)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(variant) or self._compile(connection, values)
                self._compiled[variant] = compiled
        return compiled

    def _compile(self, connection, values: dict[str, Any]) -> _Compiled:
        markers = {
            name: value if isinstance(value, bool) else _marker(value)
            for name, value in values.items()
        }
        names_by_marker = {
            marker: name for name, marker in markers.items() if not isinstance(marker, bool)
        }
        queryset = self._build(**markers)
        if queryset._prefetch_related_lookups or queryset.query.annotations:
            raise ValueError("a prepared read takes plain model querysets only")
        compiler = queryset.query.get_compiler(connection=connection)
        sql, compiled_parameters = compiler.as_sql()
        parameters = tuple(
            (True, names_by_marker[parameter])
            if _is_marker(parameter, names_by_marker)
            else (False, parameter)
            for parameter in compiled_parameters
        )
        used = {value for is_value, value in parameters if is_value}
        if used != set(names_by_marker.values()):
            raise ValueError(
                f"prepared read: values {sorted(set(names_by_marker.values()) - used)} "
                "did not reach the SQL as parameters"
            )
        klass_info, select = compiler.klass_info, compiler.select
        fields = klass_info["select_fields"]
        expressions = [column[0] for column in select[: compiler.col_count]]
        return _Compiled(
            sql=sql,
            parameters=parameters,
            model=klass_info["model"],
            fields_start=fields[0],
            fields_end=fields[-1] + 1,
            init_list=[column[0].target.attname for column in select[fields[0] : fields[-1] + 1]],
            related_populators=get_related_populators(klass_info, select, connection.alias),
            value_types={
                name: str if isinstance(values[name], str) else int
                for name in names_by_marker.values()
            },
            converters=tuple(
                (position, tuple(functions), expression)
                for position, (functions, expression) in compiler.get_converters(
                    expressions
                ).items()
            ),
        )


def _is_marker(parameter: Any, names_by_marker: dict) -> bool:
    # bool is an int: True must never be taken for a numeric marker.
    return (
        not isinstance(parameter, bool)
        and isinstance(parameter, str | int)
        and parameter in names_by_marker
    )
