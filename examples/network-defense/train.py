"""Train an AntiNex-v1 attack classifier, export it to ONNX and register it.

Attack rows: the AntiNex attack captures in ../shared/data/antinex/ when present
(SAPWOOD_ANTINEX_DIR points elsewhere), else synthetic rows of the same schema.
Non-attack rows: a CSV captured from ordinary traffic with `sapwood capture`
(--nonattack FILE), else synthetic rows shaped like ordinary loopback traffic.

The model is AntiNex's own shape (dense 200, relu, then a 2-way softmax), trained with
Adam on min-max-scaled inputs; the scaler is fitted on the training split only and baked
into the ONNX graph. Metrics are measured on a held-out split, never on training rows.

Each epoch's training loss and accuracy are printed and, inside a Sapwood Job, logged with
``sapwood.run`` (``sapwood metrics job NAME`` and the dashboard draw their curves). Inside a
Job this also registers the model (the Job is its lineage) and moves the `production`
alias; outside one it writes the ONNX file and prints the push command.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import sapwood.run
from sapwood.specs.antinex import FEATURES

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data" / "antinex"


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def read_rows(path: Path) -> np.ndarray:
    """The 67 features of every row of an AntiNex-format CSV (absent columns are -1)."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return np.array(
            [[float(row.get(name) or -1.0) for name in FEATURES] for row in reader],
            dtype=np.float32,
        )


def synthetic_rows(count: int, *, attack: bool, seed: int) -> np.ndarray:
    """Rows shaped like the captures: TCP over IPv4 with the other protocols absent.

    Attack scans hit many ports of a web app with short, option-heavy packets; ordinary
    traffic talks to a few service ports with a wider spread of lengths.
    """
    rng = np.random.default_rng(seed)
    rows = np.full((count, len(FEATURES)), -1.0, dtype=np.float32)
    column = {name: i for i, name in enumerate(FEATURES)}

    def put(name: str, values: np.ndarray | float) -> None:
        rows[:, column[name]] = values

    put("idx", np.arange(count, dtype=np.float32))
    put("eth_type", 2048.0)
    put("ip_ihl", 5.0)
    put("ip_version", 4.0)
    put("ip_tos", 0.0)
    if attack:
        put("ip_len", rng.integers(40, 400, count))
        put("tcp_dport", rng.choice([8000, 8080, 80, 443], count))
        put("tcp_sport", rng.integers(32768, 61000, count))
        put("tcp_fields_options.MSS", 65495.0)
        put("tcp_fields_options.WScale", 7.0)
        put("tcp_fields_options.Timestamp", rng.integers(1, 2**31, count))
    else:
        put("ip_len", rng.integers(52, 1500, count))
        put("tcp_dport", rng.choice([22, 5432, 6379, 8420, 53], count))
        put("tcp_sport", rng.integers(1024, 65535, count))
        put("tcp_fields_options.MSS", rng.choice([-1.0, 1460.0], count))
        put("tcp_fields_options.WScale", rng.choice([-1.0, 8.0], count))
        put("tcp_fields_options.Timestamp", rng.integers(1, 2**31, count))
    put("tcp_seq", rng.integers(0, 2**31, count))
    return rows


def load_data(nonattack: Path | None, *, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    source = Path(os.environ.get("SAPWOOD_ANTINEX_DIR", SHARED))
    files = sorted(source.glob("*_cleaned_attack.csv")) if source.is_dir() else []
    if files:
        attack = np.concatenate([read_rows(f) for f in files])
        where = f"attack rows from {', '.join(f.name for f in files)}"
    else:
        attack = synthetic_rows(6000, attack=True, seed=seed)
        where = "synthetic attack rows (the AntiNex captures were not found)"
    if nonattack is not None:
        normal = read_rows(nonattack)
        where += f"; non-attack rows from {nonattack.name}"
    else:
        normal = synthetic_rows(len(attack), attack=False, seed=seed + 1)
        where += "; synthetic non-attack rows"
    x = np.concatenate([attack, normal])
    y = np.concatenate([np.ones(len(attack)), np.zeros(len(normal))]).astype(np.int64)
    return x, y, where


def split(x: np.ndarray, y: np.ndarray, *, test_share: float, seed: int) -> Split:
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(len(x) * (1 - test_share))
    train, test = order[:cut], order[cut:]
    return Split(x[train], y[train], x[test], y[test])


def fit_scaler(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x * scale + shift`` maps each training column onto [-1, 1]."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    scale = (2.0 / span).astype(np.float32)
    return scale, (-1.0 - lo * scale).astype(np.float32)


OnEpoch = Callable[[int, dict[str, float]], None]


def train(
    x: np.ndarray,
    y: np.ndarray,
    *,
    hidden: int,
    epochs: int,
    seed: int,
    on_epoch: OnEpoch | None = None,
) -> list[np.ndarray]:
    """Dense(hidden, relu) then a 2-way softmax, Adam on cross-entropy.

    After each epoch ``on_epoch(epoch, {"loss": ..., "accuracy": ...})`` gets that epoch's
    mean cross-entropy and accuracy over its training batches (epochs count from 1)."""
    rng = np.random.default_rng(seed)
    features = x.shape[1]
    params = [
        rng.normal(0, np.sqrt(2 / features), (features, hidden)).astype(np.float32),
        np.zeros(hidden, np.float32),
        rng.normal(0, np.sqrt(1 / hidden), (hidden, 2)).astype(np.float32),
        np.zeros(2, np.float32),
    ]
    moments = [np.zeros_like(p) for p in params]
    velocities = [np.zeros_like(p) for p in params]
    step, rate, beta1, beta2 = 0, 1e-3, 0.9, 0.999
    onehot = np.eye(2, dtype=np.float32)[y]
    for epoch in range(1, epochs + 1):
        loss_sum, right = 0.0, 0
        for batch in np.array_split(rng.permutation(len(x)), max(1, len(x) // 128)):
            w1, b1, w2, b2 = params
            h = np.maximum(x[batch] @ w1 + b1, 0)
            p = _softmax(h @ w2 + b2)
            loss_sum -= float(np.log(p[np.arange(len(batch)), y[batch]] + 1e-12).sum())
            right += int((p.argmax(axis=1) == y[batch]).sum())
            d_logits = (p - onehot[batch]) / len(batch)
            d_h = (d_logits @ w2.T) * (h > 0)
            grads = [x[batch].T @ d_h, d_h.sum(0), h.T @ d_logits, d_logits.sum(0)]
            step += 1
            for i, g in enumerate(grads):
                moments[i] = beta1 * moments[i] + (1 - beta1) * g
                velocities[i] = beta2 * velocities[i] + (1 - beta2) * g * g
                m_hat = moments[i] / (1 - beta1**step)
                v_hat = velocities[i] / (1 - beta2**step)
                params[i] = (params[i] - rate * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(np.float32)
        if on_epoch is not None:
            on_epoch(epoch, {"loss": loss_sum / len(x), "accuracy": right / len(x)})
    return params


def predict(params: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    w1, b1, w2, b2 = params
    return _softmax(np.maximum(x @ w1 + b1, 0) @ w2 + b2)


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    tp = float(np.sum((y_pred == 1) & (y_true == 1)))
    fp = float(np.sum((y_pred == 1) & (y_true == 0)))
    fn = float(np.sum((y_pred == 0) & (y_true == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = float(np.mean(y_true == y_pred))
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1}


def export(params: list[np.ndarray], scale: np.ndarray, shift: np.ndarray) -> bytes:
    """One ONNX graph: scaling, the dense layer and the softmax; input ``features``."""
    w1, b1, w2, b2 = params
    nodes = [
        helper.make_node("Mul", ["features", "scale"], ["s0"]),
        helper.make_node("Add", ["s0", "shift"], ["scaled"]),
        helper.make_node("MatMul", ["scaled", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["l0"]),
        helper.make_node("Add", ["l0", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    arrays = {"scale": scale, "shift": shift, "w1": w1, "b1": b1, "w2": w2, "b2": b2}
    graph = helper.make_graph(
        nodes,
        "antinex",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", len(FEATURES)])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])],
        initializer=[numpy_helper.from_array(v, k) for k, v in arrays.items()],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="network-defense"
    )
    model.ir_version = min(model.ir_version, 8)
    helper.set_model_props(model, {"features": json.dumps(list(FEATURES))})
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    out: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return out


def workload_run() -> sapwood.run.Run | None:
    """The Sapwood run this process is (inside a Job), or None when run by hand."""
    try:
        return sapwood.run.current()
    except sapwood.run.NotInWorkloadError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="antinex", help="registry model name")
    parser.add_argument("--alias", default="production", help="alias to move to this version")
    parser.add_argument("--nonattack", type=Path, help="CSV of non-attack rows (capture)")
    # Never into the example's folder (it may be a read-only checkout): the temp folder,
    # which is private to the Job when it runs confined.
    default_out = Path(tempfile.gettempdir()) / "antinex.onnx"
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--test-share", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    run = workload_run()

    def on_epoch(epoch: int, values: dict[str, float]) -> None:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items())
        print(f"epoch {epoch}/{args.epochs}: {shown}", flush=True)
        if run is not None:
            run.log_metrics(values, step=epoch)

    x, y, where = load_data(args.nonattack, seed=args.seed)
    data = split(x, y, test_share=args.test_share, seed=args.seed)
    scale, shift = fit_scaler(data.x_train)
    params = train(
        data.x_train * scale + shift,
        data.y_train,
        hidden=args.hidden,
        epochs=args.epochs,
        seed=args.seed,
        on_epoch=on_epoch,
    )
    held_out = metrics(data.y_test, predict(params, data.x_test * scale + shift).argmax(axis=1))
    print(f"data: {where}; {len(data.x_train)} training rows, {len(data.x_test)} held out")
    print("held-out " + ", ".join(f"{k}={v:.4f}" for k, v in held_out.items()))
    args.out.write_bytes(export(params, scale, shift))
    print(f"wrote {args.out}")

    if run is None:
        flags = " ".join(f"--metric {k}={v:.4f}" for k, v in held_out.items())
        print(
            f"not in a Sapwood Job; push it with:\n  sapwood models push {args.out} "
            f"--name {args.name} --alias {args.alias} {flags}"
        )
        return 0
    # The held-out figures as one more point each, at the last epoch.
    run.log_metrics({f"held_out_{k}": v for k, v in held_out.items()}, step=args.epochs)
    run.flush()
    version = sapwood.run.register_model(
        args.out,
        name=args.name,
        metrics=held_out,
        alias=args.alias,
        framework="numpy",
        source=where,
    )
    print(f"registered {args.name} version {version.version} as {args.name}@{args.alias}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
