"""Feed factories: AntiNex-v1 rows, a scorer that needs no model, and (from
``sapwood.testing.documents``) a Feed document."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from sapwood.specs.antinex import ABSENT, FEATURES
from sapwood.testing.documents.feed import feed

__all__ = ["antinex_rows", "feed", "threshold_scores"]


def antinex_rows(count: int, *, seed: int = 0, attack_every: int = 3) -> list[dict[str, Any]]:
    """Complete AntiNex-v1 rows (all 67 features) of TCP packets: the fields a TCP packet
    has, the others -1 as a capture writes them; every ``attack_every``-th is an attack
    (``label_value`` 1), the rest 0."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        attack = i % attack_every == 0
        row: dict[str, Any] = dict.fromkeys(FEATURES, float(ABSENT))
        rows.append(
            row
            | {
                "idx": float(i),
                "eth_type": 2048.0,
                "ip_ihl": 5.0,
                "ip_len": float(rng.integers(40, 1500)),
                "ip_tos": 0.0,
                "ip_version": 4.0,
                "tcp_dport": 8080.0 if attack else 443.0,
                "tcp_sport": float(rng.integers(1024, 65535)),
                "tcp_seq": float(rng.integers(0, 2**31)),
                "label_value": 1.0 if attack else 0.0,
                "label_name": "attack" if attack else "not_attack",
            }
        )
    return rows


def threshold_scores(
    records: pa.Table, *, column: str = "tcp_dport", above: float = 1024
) -> pa.Table:
    """Results for a batch without a model: 1 where ``column`` exceeds ``above``."""
    values = records.column(column).to_numpy(zero_copy_only=False)
    prediction = (values > above).astype(np.int64)
    probabilities = np.stack([1.0 - prediction, prediction], axis=1).astype(np.float32)
    return pa.table(
        {
            "prediction": prediction,
            "score": prediction.astype(np.float64),
            "probabilities": pa.array(list(probabilities), type=pa.list_(pa.float32())),
        }
    )
