"""Valid Blueprints for every family, made by hand (no architect), for the engineer's tests.

Sizes come from the catalog, so ``parameter_count`` is the catalog's exact formula and a test can
compare it with the rendered model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlflowctl.blueprint import metrics
from mlflowctl.blueprint.model import FAMILY_TEMPLATE_KIND, Blueprint
from mlflowctl.families import IO, count_params, flops_per_sample, layer_table

#: (task, data source, input shape, output dim, lookback) per demo data set
DATASETS: dict[str, tuple[str, str, list[int], int, int | None]] = {
    "digits": ("classification", "sklearn:digits", [64], 10, None),
    "digits_image": ("classification", "sklearn:digits", [1, 8, 8], 10, None),
    "iris": ("classification", "sklearn:iris", [4], 3, None),
    "wine": ("classification", "sklearn:wine", [13], 3, None),
    "breast_cancer": ("classification", "sklearn:breast_cancer", [30], 2, None),
    "diabetes": ("regression", "sklearn:diabetes", [10], 1, None),
    "sunspots": ("forecasting", "statsmodels:sunspots", [24, 1], 1, 24),
}

SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "mlp": {"family": "mlp", "hidden": [32], "dropout": 0.1},
    "cnn": {"family": "cnn", "channels": [8, 16], "blocks_per_stage": 1, "dropout": 0.1},
    "lstm": {"family": "lstm", "hidden": 16, "layers": 1},
    "gru": {"family": "gru", "hidden": 16, "layers": 2, "dropout": 0.1},
    "tcn": {"family": "tcn", "channels": [8, 8], "kernel_size": 3, "dropout": 0.1},
    "transformer": {
        "family": "transformer",
        "d_model": 16,
        "heads": 2,
        "layers": 1,
        "ff_dim": 32,
        "max_len": 24,
        "memory_tokens": 0,
    },
}

#: family -> the data set its small test build trains on
FAMILY_DATASET = {
    "mlp": "iris",
    "cnn": "digits_image",
    "lstm": "sunspots",
    "gru": "sunspots",
    "tcn": "sunspots",
    "transformer": "sunspots",
}


def approach(
    name: str,
    family: str,
    dataset: str,
    *,
    params: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    text: str = "",
) -> dict[str, Any]:
    """One approach as a plain dict (free-text fields set to ``text`` + a default)."""
    task, _, shape, out, lookback = DATASETS[dataset]
    from pydantic import TypeAdapter

    from mlflowctl.blueprint.model import FamilyParams

    p = TypeAdapter(FamilyParams).validate_python(params or SMALL_PARAMS[family])
    io = IO(tuple(shape), out)
    loss = {"classification": "cross_entropy", "regression": "mse", "forecasting": "mse"}[task]
    metric = {"classification": "val_accuracy", "regression": "val_rmse", "forecasting": "val_mae"}
    monitor = metric[task]
    mode = "max" if task == "classification" else "min"
    test_metric = {"classification": "test_accuracy", "regression": "test_r2"}.get(
        task, "test_mase"
    )
    train = {
        "loss": {"name": loss},
        "optimizer": {"name": "adamw", "lr": 3e-3, "weight_decay": 0.01},
        "schedule": {"name": "warmup_cosine", "warmup_fraction": 0.05},
        "batch_size": 32,
        "max_epochs": 2,
        "early_stopping": {"monitor": monitor, "mode": mode, "patience": 20},
    }
    train.update(training or {})
    return {
        "name": name,
        "title": f"{family} approach {text}"[:200],
        "overview": f"overview {text}"[:4000],
        "model": {
            "family": family,
            "template_kind": FAMILY_TEMPLATE_KIND[family],
            "input": {"shape": shape, "lookback": lookback, "description": text[:200]},
            "output": {
                "kind": {"classification": "class_logits", "regression": "regression"}.get(
                    task, "forecast"
                ),
                "dim": out,
                "description": text[:200],
            },
            "params": p.model_dump(mode="json"),
            "layers": [r.model_dump(mode="json") for r in layer_table(p, io)],
            "parameter_count": count_params(p, io),
            "flops_per_sample": max(1, flops_per_sample(p, io)),
        },
        "training": train,
        "infrastructure": {
            "tracking": {
                "experiment_name": "tests",
                "tags": {"note": text[:200]},
                "metrics": [monitor],
            },
            "checkpointing": {"monitor": monitor, "mode": mode},
            "registry": {
                "model_name": "test-model",
                "gate": {"metric": test_metric, "direction": metrics.direction(test_metric)},
            },
            "monitoring": {"features": [text[:200]], "performance_metric": test_metric},
        },
        "tradeoffs": [{"aspect": "accuracy", "rating": "medium", "note": text[:200]}],
        "rationale": f"rationale {text}"[:4000],
    }


def make_blueprint(
    family: str = "mlp",
    dataset: str | None = None,
    *,
    params: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    text: str = "",
    seasonal_period: int | None = None,
) -> Blueprint:
    """A valid two-approach blueprint whose recommended approach is ``family`` on ``dataset``."""
    dataset = dataset or FAMILY_DATASET[family]
    task, source, *_ = DATASETS[dataset]
    main = approach("main", family, dataset, params=params, training=training, text=text)
    alt = approach("alternative", "mlp", dataset, text=text)
    modality = {"classification": "tabular", "regression": "tabular"}.get(task, "sequence")
    if dataset == "digits_image":
        modality = "image"
    data: dict[str, Any] = {
        "schema_version": 1,
        "provenance": {
            "blueprint_id": "bp-0123456789ab",
            "prompt": f"prompt {text}"[:4000],
            "created_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
            "tool_version": "0.1.0",
            "agent": {"name": "ml-architect", "sha256": "0" * 64},
            "backend": "offline",
        },
        "requirements": {
            "task": task,
            "modality": modality,
            "data_source": source,
            "summary": text[:200],
        },
        "approaches": [main, alt],
        "recommended": {"approach": "main", "reason": f"reason {text}"[:4000]},
        "plan": {
            "steps": [{"order": 1, "owner": "ml-engineer", "action": text[:200]}],
            "files": ["model.py"],
        },
        "envelope": {
            "confidence": 0.5,
            "uncertainty_factors": [text[:200]],
            "verification": [text[:200] or "check"],
        },
    }
    if seasonal_period is not None:
        data["data_profile"] = {
            "source": source,
            "source_kind": "builtin",
            "kind": "series",
            "n_rows": 309,
            "n_features": 1,
            "seasonal_period": seasonal_period,
        }
    return Blueprint.from_dict(data)
