"""From a model's output to stored answers; a scorer over named features."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sapwood.feeds.scoring import Scorer, ScoringError, answers
from sapwood.testing.onnx_models import mlp_model


def test_class_probabilities_give_the_argmax_and_its_probability() -> None:
    out = answers(np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32))
    assert out.column("prediction").to_pylist() == [0, 1]
    assert out.column("score").to_pylist() == pytest.approx([0.9, 0.8])
    assert out.column("probabilities").to_pylist()[1] == pytest.approx([0.2, 0.8])


def test_one_sigmoid_output_is_the_positive_class() -> None:
    out = answers(np.array([[0.7], [0.3]], dtype=np.float32))
    assert out.column("prediction").to_pylist() == [1, 0]
    assert out.column("score").to_pylist() == pytest.approx([0.7, 0.3])


def test_a_scorer_reads_its_features_by_name_in_order() -> None:
    model = mlp_model(features=3, hidden=4, classes=2, seed=3, feature_names=["a", "b", "c"])
    scorer = Scorer(model, features=["a", "b", "c"], version="7")
    table = pa.table({"c": [3.0, 0.0], "a": [1.0, 0.0], "b": [2.0, 1.0], "extra": ["x", "y"]})
    assert scorer.matrix(table).tolist() == [[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]]
    out = scorer.score(table)
    assert out.num_rows == 2
    assert all(abs(sum(p) - 1) < 1e-5 for p in out.column("probabilities").to_pylist())
    with pytest.raises(ScoringError, match="lack feature"):
        scorer.score(pa.table({"a": [1.0]}))
    with pytest.raises(ScoringError, match="reads 3 features"):
        Scorer(model, features=["a", "b"], version="7")


def test_a_non_finite_output_is_no_class() -> None:
    # A threshold calls NaN class 0 (NaN >= 0.5 is false), and so does an argmax.
    sigmoid = answers(np.array([[0.7], [np.nan], [np.inf]], dtype=np.float32))
    assert sigmoid.column("prediction").to_pylist() == [1, None, None]
    assert sigmoid.column("score").to_pylist() == [pytest.approx(0.7), None, None]
    classes = answers(np.array([[0.9, 0.1], [np.nan, np.nan], [0.2, np.inf]], dtype=np.float32))
    assert classes.column("prediction").to_pylist() == [0, None, None]
    assert classes.column("probabilities").to_pylist()[1:] == [None, None]


def test_a_nan_feature_through_a_model_is_not_scored_as_the_negative_class() -> None:
    model = mlp_model(features=2, hidden=4, classes=2, seed=1, feature_names=["a", "b"])
    scorer = Scorer(model, features=["a", "b"], version="1")
    out = scorer.score(pa.table({"a": [1.0, np.nan], "b": [0.5, 0.5]}))
    assert out.column("prediction").to_pylist()[1] is None
    assert out.column("score").to_pylist()[1] is None
    assert out.column("prediction").to_pylist()[0] in (0, 1)
