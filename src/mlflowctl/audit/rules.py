"""The audit rule table: id, severity, title, why it matters, how to fix, and its check."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from mlflowctl.audit import checks, checks_eval, checks_torch
from mlflowctl.audit.project import Project

Severity = Literal["high", "medium", "low"]
#: severities, most serious first; ``--fail-on`` takes one of them
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low")
#: the ml-engineer spec's audit-mode labels
LABELS: dict[str, str] = {"high": "CRITICAL", "medium": "WARNING", "low": "INFO"}


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    why: str
    fix: str
    check: Callable[[Project], Iterable[checks.Hit]]


RULES: tuple[Rule, ...] = (
    Rule(
        "parse-error",
        "high",
        "File could not be parsed",
        "A file that does not parse cannot run, and none of its code was audited.",
        "Fix the syntax error (run `python -m py_compile FILE`) and audit again.",
        checks.check_parse_error,
    ),
    Rule(
        "fit-before-split",
        "high",
        "Preprocessing fitted before the train/test split",
        "Scaler, encoder or normalisation statistics computed on all rows leak the validation "
        "and test data into training; reported scores are optimistic.",
        "Split first, then fit the scaler on the training part only and apply "
        "(`transform`) it to the validation and test parts, or put it in a Pipeline.",
        checks.check_fit_before_split,
    ),
    Rule(
        "random-split-time-series",
        "high",
        "Random split of time-ordered data",
        "Shuffling a time series puts future values in the training set and past values in the "
        "test set; the test score does not predict forecasting performance.",
        "Split chronologically (`train_test_split(..., shuffle=False)`, index slicing, or "
        "`TimeSeriesSplit`), and build windows after the split.",
        checks.check_random_split_time_series,
    ),
    Rule(
        "eval-on-train",
        "high",
        "Evaluation on the training data",
        "Scores on the data the model was fitted to measure memorisation, not generalisation.",
        "Evaluate on a held-out validation or test split that training never saw.",
        checks_eval.check_eval_on_train,
    ),
    Rule(
        "test-for-selection",
        "high",
        "Test data used for early stopping or model selection",
        "Once the test split chooses the epoch, checkpoint or learning rate, the test score is "
        "optimistically biased and no unbiased estimate is left.",
        "Monitor a validation metric (`val_*`) and pass the validation loader as "
        "`val_dataloaders`; touch the test split once, at the end.",
        checks_eval.check_test_for_selection,
    ),
    Rule(
        "no-seed",
        "medium",
        "No random seed",
        "Without seeds, weight initialisation, shuffling and dropout differ per run: results "
        "cannot be reproduced or compared.",
        "Call `lightning.seed_everything(SEED, workers=True)` (or `torch.manual_seed`, "
        "`np.random.seed`, `random.seed`) before building data and model.",
        checks.check_no_seed,
    ),
    Rule(
        "torch-load-unsafe",
        "high",
        "`torch.load` without `weights_only=True`",
        "`torch.load` unpickles arbitrary Python objects; a tampered or foreign checkpoint runs "
        "code on the machine that loads it.",
        "Pass `weights_only=True` (store extra objects as plain dicts/tensors), or load "
        "weights from `safetensors`.",
        checks_torch.check_torch_load,
    ),
    Rule(
        "gpu-whole-dataset",
        "medium",
        "Whole data set moved to the GPU without a size guard",
        "A data set copied to the device at once runs out of GPU memory as soon as the data "
        "grows, and leaves less memory for activations.",
        "Move batches in the training loop (`DataLoader` + `batch.to(device)`), or check the "
        "tensor's `nbytes` against `torch.cuda.mem_get_info()` before moving it whole.",
        checks_torch.check_gpu_whole_dataset,
    ),
    Rule(
        "grad-clip-missing",
        "medium",
        "No gradient clipping for a recurrent or transformer model",
        "Recurrent and attention models are prone to exploding gradients: one bad batch can "
        "turn the loss into NaN.",
        "Set `Trainer(gradient_clip_val=1.0)` or call "
        "`torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)` before `optimizer.step()`.",
        checks_torch.check_grad_clip,
    ),
    Rule(
        "scheduler-per-epoch",
        "medium",
        "Per-step learning-rate scheduler stepped per epoch",
        "`OneCycleLR`/`CyclicLR` are sized in optimizer steps; stepped once per epoch the "
        "learning rate hardly leaves its warm-up value.",
        'Return `{"scheduler": s, "interval": "step"}` from `configure_optimizers`, or call '
        "`scheduler.step()` right after `optimizer.step()` in the batch loop.",
        checks_torch.check_scheduler_interval,
    ),
    Rule(
        "eval-loop-mode",
        "medium",
        "Evaluation loop without `model.eval()` or `torch.no_grad()`",
        "Without `model.eval()`, dropout and batch norm behave as in training and scores are "
        "noisy and biased; without `no_grad`/`inference_mode`, autograd keeps every activation.",
        "Call `model.eval()` before the loop and wrap it in `with torch.inference_mode():` "
        "(and `model.train()` after it).",
        checks_eval.check_eval_loop_mode,
    ),
    Rule(
        "batch-metric-average",
        "low",
        "Metric averaged over batches instead of samples",
        "The mean of per-batch accuracies weighs a short last batch like a full one, so the "
        "figure differs from the accuracy on the data set.",
        "Accumulate counts (correct predictions and samples) over batches and divide once, or "
        "weight each batch's value by its size.",
        checks_eval.check_batch_metric_average,
    ),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def at_or_above(severity: str, threshold: str) -> bool:
    """``high`` is at or above ``medium``; unknown severities never are."""
    if severity not in SEVERITIES or threshold not in SEVERITIES:
        return False
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)
