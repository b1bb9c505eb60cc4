"""Every error of an event in one answer: field errors *and* cross-field rule violations (pure).

``parse_event`` reports either the field errors or, once every field is valid, the violations of the
cross-field rules (``domain/rules.py`` runs only on a fully built event). A publisher fixing an event
should not need one round trip per layer, so when fields are invalid the gateway also runs the rules on
a stand-in: each bad value is replaced by a valid one of the same type, and the rules' violations are
kept when they

* are about a different top-level field than any replaced value, and
* come out the same with two different stand-ins,

so a violation caused by a stand-in is not reported. If a bad value cannot be replaced (a missing
nested object, an unknown shape) only the field errors are reported, as ``parse_event`` gives them.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from decimal import Decimal
from enum import Enum
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.domain.types import INTAKE
from corridor.core.domain.validation import FieldError, InvalidEvent, field_errors, parse_event
from corridor.core.logging import get_logger

log = get_logger("corridor.gateway")

#: Values tried, in order, as stand-ins for a bad leaf; the first two its type accepts are used.
_CANDIDATES: tuple[Any, ...] = (
    "PKKHI",
    "CNTXG",
    "261000",
    "260300",
    "TNE",
    "KGM",
    "USD",
    "CNY",
    "PK",
    "CN",
    "stand-in-party",
    "other-stand-in",
    "UN0241",
    "UN0081",
    "REF-STANDIN-1",
    "REF-STANDIN-2",
    "IOLU4127057",  # ISO 6346 container numbers (check digit right)
    "CSQU3054383",
    "9345673",  # IMO ship numbers
    "9000003",
    Decimal("1"),
    Decimal("2"),
    1,
    2,
    dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
    dt.date(2026, 1, 1),
    dt.date(2026, 1, 2),
    uuid.UUID(int=1),
    uuid.UUID(int=2),
    True,
    False,
    [],
)

Loc = tuple[int | str, ...]


def validate_event(event_type: str, data: Any) -> TradeEvent:
    """``parse_event``, but an invalid event's error lists the rule violations along the field errors."""
    try:
        return parse_event(event_type, data)
    except InvalidEvent as exc:
        model = EVENT_TYPES.get(exc.event_type)
        if model is None or not isinstance(data, dict):
            raise
        try:
            extra = [v for v in rule_violations(model, data) if v not in exc.errors]
        except RecursionError:  # data nested too deeply to copy: the field errors say what is wrong
            raise exc from None
        except Exception:  # a best-effort extra: never let it turn a 422 into a 500
            log.exception("rule_violations_failed", event_type=exc.event_type)
            raise exc from None
        if not extra:
            raise
        raise InvalidEvent(exc.event_type, [*exc.errors, *extra]) from None


def rule_violations(model: type[TradeEvent], data: dict[str, Any]) -> list[FieldError]:
    """Rule violations of ``data`` that do not depend on its invalid values (see the module docstring)."""
    try:
        model.model_validate(data, context=INTAKE)
        return []
    except ValidationError as exc:
        bad = [tuple(err["loc"]) for err in exc.errors(include_url=False) if err["type"] != "corridor_rule"]
    if not bad:
        return []  # the rules ran already
    runs: list[set[FieldError]] = []
    for choice in (0, 1):
        patched = copy.deepcopy(data)
        for loc in bad:
            stand_in = _stand_in(model, loc, choice)
            if stand_in is _NONE or not _put(patched, loc, stand_in):
                return []
        try:
            model.model_validate(patched, context=INTAKE)
            runs.append(set())
        except ValidationError as exc:
            if any(err["type"] != "corridor_rule" for err in exc.errors(include_url=False)):
                return []  # a stand-in did not fit after all
            runs.append(set(field_errors(exc)))
    replaced_tops = {str(loc[0]) for loc in bad if loc}
    kept = runs[0] & runs[1]
    return sorted((v for v in kept if _top(v.field) not in replaced_tops), key=lambda v: (v.field, v.reason))


def _top(field: str) -> str:
    return field.split(".", 1)[0].split("[", 1)[0]


class _Missing:
    pass


_NONE = _Missing()


def _stand_in(model: type[BaseModel], loc: Loc, choice: int) -> Any:
    """The ``choice``-th (0 or 1, or the only) candidate the leaf's declared type accepts."""
    leaf = _leaf_type(model, loc)
    if leaf is None:
        return _NONE
    accepted = _accepted(leaf)
    if not accepted:
        return _NONE
    return accepted[min(choice, len(accepted) - 1)]


def _accepted(leaf: Any) -> tuple[Any, ...]:
    try:
        return _accepted_cached(leaf)
    except TypeError:  # an unhashable annotation: work it out without the cache
        return _accepted_uncached(leaf)


@cache
def _accepted_cached(leaf: Any) -> tuple[Any, ...]:
    return _accepted_uncached(leaf)


def _accepted_uncached(leaf: Any) -> tuple[Any, ...]:
    adapter = TypeAdapter(leaf)
    found: list[Any] = []
    base = _bare(leaf)
    candidates = (
        (*list(base), *_CANDIDATES) if isinstance(base, type) and issubclass(base, Enum) else _CANDIDATES
    )
    for candidate in candidates:
        try:
            found.append(adapter.validate_python(candidate))
        except (ValidationError, TypeError, ValueError):
            continue
        if len(found) == 2:
            break
    return tuple(found)


def _strip_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, UnionType):
        members = [a for a in get_args(tp) if a is not NoneType]
        if len(members) == 1:
            return members[0]
    return tp


def _bare(tp: Any) -> Any:
    """The type without Annotated metadata and without ``| None``."""
    tp = _strip_optional(tp)
    while get_origin(tp) is Annotated:
        tp = _strip_optional(get_args(tp)[0])
    return tp


def _leaf_type(model: type[BaseModel], loc: Loc) -> Any:
    tp: Any = model
    for part in loc:
        base = _bare(tp)
        if isinstance(part, int):
            if get_origin(base) is not list:
                return None
            tp = get_args(base)[0]
        elif isinstance(base, type) and issubclass(base, BaseModel):
            info = base.model_fields.get(part)
            if info is None:
                return None
            tp = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        else:
            return None
    return tp


def _put(data: Any, loc: Loc, value: Any) -> bool:
    """Set ``data[loc]`` (the parent must exist); False when the path does not fit the data."""
    target = data
    for part in loc[:-1]:
        try:
            target = target[part]
        except (KeyError, IndexError, TypeError):
            return False
    last = loc[-1]
    if isinstance(target, dict) and isinstance(last, str):
        target[last] = value
        return True
    if isinstance(target, list) and isinstance(last, int) and 0 <= last < len(target):
        target[last] = value
        return True
    return False
