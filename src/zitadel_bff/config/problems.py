"""Configuration problems in our words: one line per variable, naming what is wrong and a value
that would do, in place of pydantic's own messages ("Input should be a valid integer ...").

The checks of our own validators already speak our words; this module words what pydantic
checks itself (types, ranges, required variables) and collects every problem by variable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

__all__ = ["EXAMPLES", "example", "problems_of"]

#: A valid value of each variable whose type or range pydantic checks, and of each required one:
#: the "for example NAME=value" of its messages (tests check that every such field has one).
EXAMPLES: dict[str, str] = {
    "port": "3000",
    "metrics_port": "9100",
    "shutdown_timeout": "30",
    "access_log": "true",
    "session_duration": "3600",
    "session_max_lifetime": "86400",
    "zitadel_domain": "https://my-org.zitadel.cloud",
    "zitadel_client_id": "243864426485212395@my-project",
    "zitadel_callback_url": "https://app.example.com/auth/callback",
    "zitadel_post_logout_url": "https://app.example.com/auth/logout/callback",
    "zitadel_clock_skew": "60",
    "zitadel_timeout": "10",
    "zitadel_jwt_access_tokens": "true",
    "admin_max_age": "900",
    "api_timeout": "30",
    "upstream_pass_access_token": "true",
    "log_level": "INFO",
    "log_format": "json",
    "zitadel_id_token_alg": "RS256",
}
#: What to do instead of an example value, for variables whose value must not be copied.
ADVICE = {"session_secret": "run `zitadel-bff secret` for one"}
#: Variables counted in seconds, so that their messages say so.
SECONDS = frozenset(
    {
        "shutdown_timeout",
        "session_duration",
        "session_max_lifetime",
        "zitadel_clock_skew",
        "zitadel_timeout",
        "admin_max_age",
        "api_timeout",
    }
)


def example(field: str) -> str:
    """``for example NAME=value`` (or the advice) for a field, to end a message with."""
    if field in ADVICE:
        return ADVICE[field]
    return f"for example {field.upper()}={EXAMPLES[field]}"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _whole(value: Any, ctx: Mapping[str, Any], seconds: bool) -> str:
    return f"{value!r} is not a whole number" + (" of seconds" if seconds else "")


def _real(value: Any, ctx: Mapping[str, Any], seconds: bool) -> str:
    return f"{value!r} is not a number" + (" of seconds" if seconds else "")


def _boolean(value: Any, ctx: Mapping[str, Any], seconds: bool) -> str:
    return f"{value!r} is not true or false"


def _bound(word: str, key: str) -> Callable[[Any, Mapping[str, Any], bool], str]:
    def say(value: Any, ctx: Mapping[str, Any], seconds: bool) -> str:
        bound = _number(ctx[key])
        unit = (" second" if bound == "1" else " seconds") if seconds else ""
        return f"must be {word} {bound}{unit}, not {value}"

    return say


def _empty(value: Any, ctx: Mapping[str, Any], seconds: bool) -> str:
    return "is empty"


def _missing(value: Any, ctx: Mapping[str, Any], seconds: bool) -> str:
    return "is required but not set"


#: pydantic's error types (what it checks itself) and how we say each.
WORDING: dict[str, Callable[[Any, Mapping[str, Any], bool], str]] = {
    "missing": _missing,
    "int_parsing": _whole,
    "int_from_float": _whole,
    "int_type": _whole,
    "float_parsing": _real,
    "float_type": _real,
    "finite_number": _real,
    "bool_parsing": _boolean,
    "bool_type": _boolean,
    "greater_than_equal": _bound("at least", "ge"),
    "greater_than": _bound("more than", "gt"),
    "less_than_equal": _bound("at most", "le"),
    "string_too_short": _empty,
}


def _worded(field: str, error: Mapping[str, Any]) -> str:
    """Our line for one of pydantic's own checks: what was wrong, then a value that would do."""
    kind = error["type"]
    value = error.get("input")
    if value == "" and kind != "missing":
        reason = "is empty"
    else:
        reason = WORDING[kind](value, error.get("ctx") or {}, field in SECONDS)
    if field in EXAMPLES or field in ADVICE:
        return f"{reason}; {example(field)}"
    return reason


def _problem(error: Mapping[str, Any]) -> tuple[str, str]:
    """(VARIABLE, what is wrong) for one validation error."""
    loc = error.get("loc") or ()
    field = str(loc[0]) if loc else ""
    if field and error.get("type") in WORDING:
        return field.upper(), _worded(field, error)
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    named, sep, rest = message.partition(": ")
    if not loc and sep and named.isupper() and " " not in named:
        return named, rest  # a check across variables that names its variable
    return (field.upper() or "CONFIGURATION"), message


def problems_of(exc: ValidationError) -> dict[str, str]:
    """Every bad variable of a failed construction, with its first problem."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        name, message = _problem(error)
        problems.setdefault(name, message)
    return problems
