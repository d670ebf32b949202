"""Confirmation schemas: the fields a customer confirms a transfer with.

A schema comes from a provider (or an operator) and its regexps are untrusted:
they are compiled and run by RE2, whose matching is linear in the input, never
by Python's backtracking `re`.
"""

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import re2

FIELD_TYPES = ("text", "number", "email", "tel", "date")
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_SPEC_KEYS = {"required", "regexp", "type", "example", "label"}
_MAX_PATTERN_LENGTH = 1000
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad provider pattern is our error to report, not stderr's
_RE2_OPTIONS.max_mem = 8 << 20


class InvalidPattern(ValueError):
    pass


class UntrustedPattern(Protocol):
    """What is used of a compiled RE2 pattern (google-re2 ships no type information)."""

    def search(self, text: str) -> object | None: ...


@functools.lru_cache(maxsize=512)
def compile_untrusted(pattern: str) -> UntrustedPattern:
    """Compile a provider's regexp with RE2, or raise `InvalidPattern`."""
    if len(pattern) > _MAX_PATTERN_LENGTH:
        raise InvalidPattern(f"longer than {_MAX_PATTERN_LENGTH} characters")
    try:
        compiled: UntrustedPattern = re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as error:
        message = error.args[0] if error.args else error
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        raise InvalidPattern(f"RE2 cannot compile it: {message}") from None
    return compiled


def confirmation_schema_problems(schema: Any) -> list[str]:
    """Why `schema` is not a usable confirmation schema; empty when it is."""
    if not isinstance(schema, Mapping):
        return ["the schema must be an object of fields"]
    problems = []
    for name, spec in schema.items():
        where = f"field {name!r}"
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            problems.append(f"{where}: names are a letter then letters, digits or _ (max 64)")
        if not isinstance(spec, Mapping):
            problems.append(f"{where}: must be an object")
            continue
        if unknown := sorted(set(spec) - _SPEC_KEYS):
            problems.append(f"{where}: unknown keys {', '.join(unknown)}")
        if not isinstance(spec.get("required"), bool):
            problems.append(f"{where}: 'required' must be true or false")
        if spec.get("type", "text") not in FIELD_TYPES:
            problems.append(f"{where}: 'type' must be one of {', '.join(FIELD_TYPES)}")
        for optional_text in ("example", "label"):
            if spec.get(optional_text) is not None and not isinstance(spec[optional_text], str):
                problems.append(f"{where}: {optional_text!r} must be text or null")
        pattern = spec.get("regexp")
        if not isinstance(pattern, str) or not pattern:
            problems.append(f"{where}: 'regexp' must be a non-empty string")
            continue
        try:
            compile_untrusted(pattern)
        except InvalidPattern as error:
            problems.append(f"{where}: regexp {error}")
    return problems


def is_confirmation_required(schema: Mapping[str, Mapping[str, Any]]) -> bool:
    return any(spec.get("required") for spec in schema.values())


MAX_VALUE_LENGTH = 1000


@dataclass(frozen=True)
class PayloadProblem:
    field: str
    code: str
    detail: str


_TYPE_DETAILS = {
    field_type: f"Send the value as a JSON string (this field's type is {field_type})."
    for field_type in FIELD_TYPES
} | {"number": "Send the value as a JSON number or a string of its digits."}


def _is_of_json_type(value: Any, field_type: str) -> bool:
    """Only a "number" field takes a JSON number. Anywhere else a number is refused,
    not turned into text: 0042 sent as a number arrives as 42, a different receipt."""
    if isinstance(value, str):
        return True
    return (
        field_type == "number" and isinstance(value, int | Decimal) and not isinstance(value, bool)
    )


def confirmation_payload_problems(
    schema: Mapping[str, Mapping[str, Any]], payload: Mapping[str, Any]
) -> tuple[dict[str, str], list[PayloadProblem]]:
    """The payload as strings, and what is wrong with it against `schema`.

    Required fields must be present, every value must match its field's regexp
    (run by RE2), and fields the schema does not know are refused.
    """
    values: dict[str, str] = {}
    problems = []
    for name, value in payload.items():
        if name not in schema:
            problems.append(PayloadProblem(name, "unknown_field", "This field is not asked for."))
            continue
        field_type = schema[name].get("type", "text")
        if not _is_of_json_type(value, field_type):
            problems.append(PayloadProblem(name, "invalid_type", _TYPE_DETAILS[field_type]))
            continue
        text = str(value)
        if len(text) > MAX_VALUE_LENGTH:
            problems.append(
                PayloadProblem(name, "too_long", f"At most {MAX_VALUE_LENGTH} characters.")
            )
            continue
        values[name] = text
    for name, spec in schema.items():
        if name not in payload:
            if spec.get("required"):
                problems.append(PayloadProblem(name, "required", "This field is required."))
            continue
        if name in values and not compile_untrusted(spec["regexp"]).search(values[name]):
            example = f" (e.g. {spec['example']})" if spec.get("example") else ""
            problems.append(
                PayloadProblem(name, "invalid_format", f"The value has the wrong format{example}.")
            )
    return values, problems
