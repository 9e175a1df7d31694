"""Write AntiNex-v1 rows to a CSV for `sapwood feed push`: the real attack captures from
../shared/data/antinex/ when present, mixed with synthetic ordinary traffic, with labels.

    python examples/network-defense/rows.py /tmp/rows.csv [--count 5000]

It writes only the file it is given (put it outside the checkout).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from pathlib import Path

import numpy as np

from sapwood.specs.antinex import FEATURES

HERE = Path(__file__).resolve().parent


def _train_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("network_defense_train", HERE / "train.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    # No __pycache__ beside train.py: examples never write into the checkout.
    sys.dont_write_bytecode = True
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=5000, help="rows in all (half attacks)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)

    train = _train_module()
    half = args.count // 2
    x, y, where = train.load_data(None, seed=args.seed)
    attacks = x[y == 1]
    pick = np.random.default_rng(args.seed).choice(len(attacks), size=half)
    normal = train.synthetic_rows(args.count - half, attack=False, seed=args.seed + 7)
    rows = np.concatenate([attacks[pick], normal])
    labels = np.concatenate([np.ones(half), np.zeros(args.count - half)])
    with args.out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*FEATURES, "label_value", "label_name"])
        for row, label in zip(rows, labels, strict=True):
            name = "attack" if label else "not_attack"
            writer.writerow([f"{v:g}" for v in row] + [int(label), name])
    print(f"wrote {args.count} rows to {args.out} ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
