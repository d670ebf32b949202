import time
from decimal import Decimal

import pytest

from connectors.sandbox import CONFIRMATION_SCHEMA
from invoices.confirmation_schema import (
    InvalidPattern,
    compile_untrusted,
    confirmation_payload_problems,
    confirmation_schema_problems,
    is_confirmation_required,
)


def test_the_seed_schema_is_valid_and_required():
    assert confirmation_schema_problems(CONFIRMATION_SCHEMA) == []
    assert is_confirmation_required(CONFIRMATION_SCHEMA)


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ([], "must be an object"),
        ({"code": "x"}, "must be an object"),
        ({"1code": {"required": True, "regexp": "^x$"}}, "names are a letter"),
        ({"code": {"required": "yes", "regexp": "^x$"}}, "'required' must be true or false"),
        ({"code": {"required": True}}, "'regexp' must be a non-empty string"),
        ({"code": {"required": True, "regexp": "(a)\\1"}}, "RE2 cannot compile it"),
        ({"code": {"required": True, "regexp": "^(?=a)"}}, "RE2 cannot compile it"),
        ({"code": {"required": True, "regexp": "^x$", "type": "blob"}}, "'type' must be one of"),
        ({"code": {"required": True, "regexp": "^x$", "regex": "y"}}, "unknown keys regex"),
        ({"code": {"required": True, "regexp": "^x$", "example": 5}}, "'example' must be text"),
        ({"code": {"required": True, "regexp": "a" * 1001}}, "longer than 1000"),
    ],
)
def test_bad_schemas_are_refused_with_a_reason(schema, problem):
    problems = confirmation_schema_problems(schema)
    assert any(problem in p for p in problems), problems


def test_untrusted_patterns_run_in_linear_time():
    pattern = compile_untrusted(r"^(a+)+$")
    started = time.monotonic()
    assert pattern.search("a" * 50_000 + "!") is None
    assert time.monotonic() - started < 1


def test_compile_errors_are_typed():
    with pytest.raises(InvalidPattern):
        compile_untrusted("(")


@pytest.mark.parametrize(
    ("field_type", "value", "accepted"),
    [
        ("text", "0042", True),
        ("text", 42, False),
        ("text", Decimal("4.2"), False),
        ("email", 42, False),
        ("number", 42, True),
        ("number", Decimal("4.2"), True),
        ("number", "42", True),
        ("number", True, False),
        ("number", None, False),
        ("text", False, False),
    ],
)
def test_only_a_number_field_takes_a_json_number(field_type, value, accepted):
    schema = {"code": {"required": True, "regexp": "^[0-9.]+$", "type": field_type}}
    values, problems = confirmation_payload_problems(schema, {"code": value})
    assert [problem.code for problem in problems] == ([] if accepted else ["invalid_type"])
    assert values == ({"code": str(value)} if accepted else {})
