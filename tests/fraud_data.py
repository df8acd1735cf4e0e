"""A fraud table as people have it, for tests that drive the CLI on a binary, imbalanced task:
three numeric features, a ``label`` of ``fraud``/``ok``, the top ``share`` of a noisy score
labelled fraud (so ``n * share`` fraud rows), optionally a ``tx_id`` identifier column."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def fraud_csv(
    path: Path, n: int = 400, *, seed: int = 0, share: float = 0.1, ids: bool = False
) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    score = 1.5 * x[:, 0] + x[:, 1] + 0.8 * rng.normal(size=n)
    fraud = score > np.quantile(score, 1 - share)
    head = "tx_id," if ids else ""
    rows = [head + "amount,hour,distance,label"] + [
        (f"T{i:05d}," if ids else "") + f"{a:.4f},{b:.4f},{c:.4f},{'fraud' if f else 'ok'}"
        for i, ((a, b, c), f) in enumerate(zip(x, fraud, strict=True))
    ]
    path.write_text("\n".join(rows) + "\n")
    return path
