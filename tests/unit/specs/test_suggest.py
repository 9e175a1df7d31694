"""'Did you mean …?': the closest candidate, only when it is close."""

from __future__ import annotations

import pytest

from sapwood.specs.objects import kind_of
from sapwood.specs.suggest import closest, did_you_mean


def test_the_closest_candidate_is_offered() -> None:
    assert closest("hello-trian", ["hello-train", "hello-web", "other"]) == "hello-train"
    assert did_you_mean("jbos", ["jobs", "services"]) == "; did you mean 'jobs'?"


def test_nothing_is_offered_when_nothing_is_close_or_the_word_itself() -> None:
    assert closest("pods", ["jobs", "services", "workspaces", "feeds"]) is None
    assert closest("jobs", ["jobs"]) is None
    assert did_you_mean("x", []) == ""


def test_case_can_be_ignored_and_the_candidate_comes_back_as_given() -> None:
    assert closest("JBOS", ["jobs"], ignore_case=True) == "jobs"
    assert closest("jbo", ["Job", "Service"], ignore_case=True) == "Job"


def test_a_mistyped_kind_names_the_closest() -> None:
    with pytest.raises(ValueError, match=r"unknown kind 'jbos': .*; did you mean 'jobs'\?$"):
        kind_of("jbos")
