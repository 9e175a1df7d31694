"""Label selectors as kubectl writes them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sapwood.specs.selectors import SELECTOR_PATTERN, Op, Requirement, matches, parse_selector


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("app=x", [Requirement("app", Op.EQ, "x")]),
        ("app==x", [Requirement("app", Op.EQ, "x")]),
        ("tier!=y", [Requirement("tier", Op.NE, "y")]),
        ("gpu", [Requirement("gpu", Op.EXISTS)]),
        ("!spot", [Requirement("spot", Op.ABSENT)]),
        (" app = x , ! spot ", [Requirement("app", Op.EQ, "x"), Requirement("spot", Op.ABSENT)]),
        ("app=", [Requirement("app", Op.EQ, "")]),
        ("sapwood.dev/team=ml", [Requirement("sapwood.dev/team", Op.EQ, "ml")]),
        ("", []),
        (",,", []),
    ],
)
def test_parse_selector(text: str, requirements: list[Requirement]) -> None:
    assert parse_selector(text) == requirements


LABELS = {"app": "x", "tier": "web", "gpu": "a100"}


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("app=x", LABELS, True),
        ("app=y", LABELS, False),
        ("app==x", LABELS, True),
        ("app=x", {}, False),
        ("tier!=y", LABELS, True),
        ("tier!=web", LABELS, False),
        ("tier!=y", {}, True),  # an absent key is "not y" too, as in kubectl
        ("gpu", LABELS, True),
        ("gpu", {"app": "x"}, False),
        ("gpu", {"gpu": ""}, True),
        ("!spot", LABELS, True),
        ("!spot", {"spot": "true"}, False),
        ("!spot", {"spot": ""}, False),
        ("app=x,tier!=db,gpu,!spot", LABELS, True),
        ("app=x,tier!=web,gpu,!spot", LABELS, False),
        ("app=x,gpu,!spot", {**LABELS, "spot": "1"}, False),
        ("", {}, True),
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert matches(parse_selector(text), labels) is expected


@pytest.mark.parametrize(
    ("text", "term", "problem"),
    [
        ("app=x,bad key=1", "bad key=1", "label key 'bad key' is invalid"),
        ("=x", "=x", "label key '' is invalid"),
        ("app=has space", "app=has space", "label value 'has space' is invalid"),
        ("app=x=y", "app=x=y", "label value 'x=y' is invalid"),
        ("tier!=-y", "tier!=-y", "label value '-y' is invalid"),
        ("!", "!", "label key '' is invalid"),
        ("gpu in (a", "gpu in (a", "label key 'gpu in (a' is invalid"),
        ("Bad_Prefix/app", "Bad_Prefix/app", "invalid prefix"),
    ],
)
def test_invalid_term_raises_value_error_naming_the_term(
    text: str, term: str, problem: str
) -> None:
    with pytest.raises(ValueError, match="label selector term") as info:
        parse_selector(text)
    message = str(info.value)
    assert message.startswith(f"label selector term {term!r}: ")
    assert problem in message


@settings(max_examples=300, deadline=None)
@given(st.from_regex(SELECTOR_PATTERN, fullmatch=True))
def test_every_selector_the_pattern_advertises_is_accepted(text: str) -> None:
    parse_selector(text)


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        (" app = x , ! spot ", True),
        ("sapwood.dev/team=ml,,", True),
        ("a=b=c", False),
        ("!", False),
        ("a b", False),
        ("a/b/c=d", False),
    ],
)
def test_the_selector_pattern_follows_the_grammar(text: str, inside: bool) -> None:
    assert bool(re.fullmatch(SELECTOR_PATTERN, text)) == inside
