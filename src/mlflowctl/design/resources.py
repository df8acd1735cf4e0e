"""What a prompt says about time and memory: an inference latency, a training-time limit and the
memory where the model runs (read by ``phrases.CONCEPTS``)."""

from __future__ import annotations

import re

from mlflowctl.design.numbers import NUM, number

#: words of training: a time said next to them is a training time, not a latency
TRAINING_WORDS = r"\b(train|trains|training|trained|retrain\w*|fit|fitting|fitted)\b"
_SERVING = r"latency|inference|respond|response|predict|per (call|request|row|sample)"


def read_latency(low: str) -> float | None:
    """ "responses within 20 milliseconds", "under 0.1 seconds per prediction": milliseconds.
    A time said of training ("training must finish in 30 seconds") is not a latency."""
    if not re.search(_SERVING + "|under|below|within", low):
        return None
    amount = r"(?<![\w.])(\d+(?:\.\d+)?|half a|an?|one)"  # "under a millisecond per row"
    for lat in re.finditer(amount + r"\s*(ms|milliseconds?|s|sec|seconds?)\b", low):
        before = low[max(0, lat.start() - 50) : lat.start()]
        if re.search(TRAINING_WORDS, before) and not re.search(_SERVING, before):
            continue
        value = number(lat.group(1)) * (1 if lat.group(2).startswith("m") else 1000)
        return value if 0 < value <= 3_600_000 else None
    return None


#: seconds per unit, by the unit's singular ("mins" -> "min", "s" stays "s")
_TIME_UNIT = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hr": 3600,
              "hour": 3600}  # fmt: skip


def read_train_time(low: str) -> float | None:
    """ "training must finish in under 30 seconds", "retrain every night in under five
    minutes", "a training budget of 2 hours", "10 minutes of training": seconds."""
    amount = r"(?P<n>" + NUM + r")\s*(?P<u>seconds?|secs?|s|minutes?|mins?|hours?|hrs?|h)\b"
    limit = r"(?:in|under|below|within|less than|at most|no more than|budget of|of)\s+"
    m = re.search(
        TRAINING_WORDS + r"[^.;]{0,50}?" + limit + r"(?:about |roughly |an? )?" + amount, low
    ) or re.search(amount + r"\s+(?:of |for )?(?:training|to train)\b", low)
    if m is None:
        return None
    count, word = m.group("n"), m.group("u")
    seconds = number(count) * _TIME_UNIT[word.rstrip("s") or "s"]
    return seconds if 0 < seconds <= 30 * 86_400 else None


_BYTES = {"kb": 1e3, "kib": 1024.0, "mb": 1e6, "mib": 2.0**20, "gb": 1e9, "gib": 2.0**30}


def read_memory(low: str) -> float | None:
    """ "256 KB of RAM", "fits in 2 MB", "a 16 GB GPU": the memory named, in GB."""
    m = re.search(r"(\d+(?:\.\d+)?)\s*(kb|kib|mb|mib|gb|gib)\b", low)
    if m is None:
        return None
    gb = float(m.group(1)) * _BYTES[m.group(2)] / 1e9
    return gb if 0 < gb <= 100_000 else None


#: a memory under this many GB, with no GPU named, is where the model runs, not a training GPU
INFERENCE_MEMORY_GB = 1.0


def runs_in(memory_gb: float | None, edge: bool, hardware: str | None) -> bool:
    """Whether the stated memory is where the model runs (an edge device, a phone, or a small
    memory with no GPU named) rather than the training device FSDP shards for."""
    if not memory_gb:
        return False
    return edge or (memory_gb < INFERENCE_MEMORY_GB and hardware not in ("gpu", "multi_gpu"))


def memory_budget(memory_gb: float) -> int:
    """The parameters whose fp32 weights take half of an inference memory (the other half is
    left to activations, the runtime and the input): 256 KB -> 32,000."""
    return max(1, int(memory_gb * 1e9 / 2 / 4))
