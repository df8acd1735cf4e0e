"""The static checks about evaluation: on training data, test data used for selection, eval loops
without ``eval()``/``no_grad``, and metrics averaged per batch. Same conventions as ``checks.py``:
one scope at a time, nothing imported or executed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mlflowctl.audit.checks import Hit, _hit
from mlflowctl.audit.project import (
    Project,
    Scope,
    SourceFile,
    arguments,
    call_name,
    calls_in,
    dotted,
    is_const,
    kwarg,
    pos,
    receiver,
    tokens,
    walk_scope,
    word_set,
)

# --- evaluation on training data

EVAL_FUNCS = frozenset(
    {
        "test", "validate", "evaluate", "score", "accuracy_score", "balanced_accuracy_score",
        "f1_score", "precision_score", "recall_score", "roc_auc_score", "r2_score",
        "mean_squared_error", "mean_absolute_error", "classification_report", "log_loss",
        "confusion_matrix",
    }
)  # fmt: skip
TRAIN_WORDS = frozenset({"train", "training"})
HELDOUT_WORDS = frozenset({"val", "valid", "validation", "test", "holdout", "heldout", "dev"})


def _is_eval_call(call: ast.Call) -> bool:
    name = call_name(call)
    return name in EVAL_FUNCS or name.startswith("evaluate_") or name.startswith("eval_")


def check_eval_on_train(project: Project) -> Iterator[Hit]:
    """Evaluation (``trainer.test/validate``, ``evaluate``, sklearn metrics, ``.score``) whose
    data arguments name the training split, or ``fit(val_dataloaders=<train loader>)``; not
    flagged when the same scope also evaluates on a validation/test split (a train score shown
    beside a held-out one is fine)."""
    for src in project.parsed():
        for scope in src.scopes():
            on_train: list[ast.Call] = []
            on_heldout = False
            for call in calls_in(scope):
                if call_name(call) == "fit":
                    val = kwarg(call, "val_dataloaders")
                    if val is not None and word_set(val) & TRAIN_WORDS:
                        yield _hit(
                            src,
                            call,
                            "`val_dataloaders` is the training data: validation scores measure "
                            "memorisation, not generalisation",
                        )
                    continue
                if not _is_eval_call(call):
                    continue
                words = (
                    set().union(*(word_set(a) for a in arguments(call)))
                    if arguments(call)
                    else set()
                )
                if words & HELDOUT_WORDS:
                    on_heldout = True
                elif words & TRAIN_WORDS:
                    on_train.append(call)
            if on_heldout:
                continue
            for call in on_train:
                yield _hit(
                    src,
                    call,
                    f"`{dotted(call.func)}` evaluates on the training data and nothing in this "
                    "code evaluates on a held-out split",
                )


# --- test data for selection

SELECTION_CALLBACKS = frozenset({"EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau"})
TEST_WORDS = frozenset({"test", "testing", "holdout"})
SAVE_CALLS = frozenset({"save", "save_checkpoint", "deepcopy", "state_dict", "save_model"})


def check_test_for_selection(project: Project) -> Iterator[Hit]:
    """The test split steering training or model choice.

    ``EarlyStopping``/``ModelCheckpoint(monitor="test_...")``, ``fit(val_dataloaders=<test>)``
    or a third positional ``fit`` argument naming test data, ``scheduler.step(test_loss)``, and
    ``if test_metric < best: save/break``.
    """
    for src in project.parsed():
        assert src.tree is not None
        for node in src.nodes():
            if isinstance(node, ast.Call):
                name = call_name(node)
                if name in SELECTION_CALLBACKS:
                    monitor = kwarg(node, "monitor")
                    if monitor is None and name == "EarlyStopping" and node.args:
                        monitor = node.args[0]
                    if (
                        isinstance(monitor, ast.Constant)
                        and isinstance(monitor.value, str)
                        and tokens(monitor.value) & TEST_WORDS
                    ):
                        yield _hit(
                            src,
                            node,
                            f"`{name}` monitors `{monitor.value}`, a test metric: the test "
                            "split chooses the model, so its score is no longer unbiased",
                        )
                elif name == "fit":
                    val = kwarg(node, "val_dataloaders")
                    if val is None and len(node.args) >= 3:
                        val = node.args[2]
                    if val is not None and word_set(val) & TEST_WORDS:
                        yield _hit(
                            src,
                            node,
                            f"`{ast.unparse(val)}` is the validation data of `fit`: early stopping "
                            "and checkpoint choice see the test split",
                        )
                elif name == "step" and node.args and word_set(node.args[0]) & TEST_WORDS:
                    yield _hit(
                        src,
                        node,
                        f"`{dotted(node.func)}({ast.unparse(node.args[0])})` adapts training to "
                        "a test metric",
                    )
            elif isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
                if not word_set(node.test) & TEST_WORDS:
                    continue
                body = [n for stmt in node.body for n in ast.walk(stmt)]
                picks = any(isinstance(n, ast.Break) for n in body) or any(
                    isinstance(n, ast.Call) and call_name(n) in SAVE_CALLS for n in body
                )
                if picks:
                    yield _hit(
                        src,
                        node,
                        f"`if {ast.unparse(node.test)}` keeps or stops on a test metric: the test "
                        "split chooses the model",
                    )


# --- eval loop mode

EVAL_LOOP_WORDS = frozenset({"val", "valid", "validation", "test", "eval", "holdout", "dev"})
NO_GRAD = frozenset({"no_grad", "inference_mode"})


def _in_no_grad(src: SourceFile, node: ast.AST) -> bool:
    for up in src.ancestors(node):
        if isinstance(up, (ast.With, ast.AsyncWith)):
            for item in up.items:
                ctx = item.context_expr
                if isinstance(ctx, ast.Call) and (
                    call_name(ctx) in NO_GRAD
                    or (
                        call_name(ctx) == "set_grad_enabled"
                        and is_const(next(iter(ctx.args), None), False)
                    )
                ):
                    return True
        if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in up.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if dotted(target).split(".")[-1] in NO_GRAD:
                    return True
    return False


MODEL_WORDS = frozenset({"model", "net", "network", "module", "classifier", "regressor", "lit"})


def _runs_model(node: ast.AST) -> bool:
    """A forward pass: ``model(x)``, ``self.net(x)``, ``self(x)``, ``m.forward(x)``/``.predict``."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in {"forward", "predict", "predict_step"}:
        return True
    if isinstance(func, ast.Name) and func.id == "self":
        return True
    if isinstance(func, (ast.Name, ast.Attribute)):
        last = func.id if isinstance(func, ast.Name) else func.attr
        return bool(tokens(last) & MODEL_WORDS)
    return False


def check_eval_loop_mode(project: Project) -> Iterator[Hit]:
    """A loop over validation/test batches (its iterable names val/test/eval data; not a literal
    tuple or list) that runs the model (``model(x)``, ``self.net(x)``, ``.forward``,
    ``.predict``) without ``torch.no_grad()``/``torch.inference_mode()`` (a ``with`` around it
    or a decorator), or without a ``.eval()`` call earlier in the same function."""
    for src in project.parsed():
        assert src.tree is not None
        for loop in src.nodes():
            if not isinstance(loop, (ast.For, ast.AsyncFor)):
                continue
            if isinstance(loop.iter, (ast.Tuple, ast.List, ast.Dict, ast.Set)):
                continue
            if not word_set(loop.iter) & EVAL_LOOP_WORDS:
                continue
            if not any(_runs_model(n) for s in loop.body for n in ast.walk(s)):
                continue
            missing = []
            if not _in_no_grad(src, loop):
                missing.append("`torch.no_grad()`")
            scope = src.scope_of(loop)
            if not any(
                (call_name(c) == "eval" and not c.args)
                or (call_name(c) == "train" and is_const(next(iter(c.args), None), False))
                for c in calls_in(scope)
                if pos(c) < pos(loop)
            ):
                missing.append("`model.eval()`")
            if missing:
                yield _hit(
                    src,
                    loop,
                    f"the loop over `{ast.unparse(loop.iter)}` evaluates without "
                    f"{' and '.join(missing)}: dropout and batch norm stay in training mode "
                    "and/or autograd keeps every activation",
                )


# --- metrics averaged per batch

METRIC_WORDS = frozenset(
    {"acc", "accs", "accuracy", "accuracies", "f1", "precision", "recall", "auc", "iou", "dice",
     "metric", "metrics"}
)  # fmt: skip
MEAN_CALLS = frozenset({"mean", "fmean", "average"})


def _accumulated_in_loop(src: SourceFile, scope: Scope, name: str) -> bool:
    """``name.append(...)`` or ``name += ...`` inside a loop of this scope."""
    for node in walk_scope(scope):
        if isinstance(node, ast.AugAssign) and dotted(node.target) == name and src.loops_of(node):
            return True
        if (
            isinstance(node, ast.Call)
            and call_name(node) in {"append", "extend"}
            and dotted(receiver(node) or node) == name
            and src.loops_of(node)
        ):
            return True
    return False


def check_batch_metric_average(project: Project) -> Iterator[Hit]:
    """A per-batch metric (accuracy, F1, ... accumulated per iteration of a loop) averaged over
    batches: ``sum(accs) / len(loader)``, ``total_acc / n_batches``, ``np.mean(accs)``. With a
    smaller last batch every batch weighs the same, so the figure is not the data set's."""
    for src in project.parsed():
        for scope in src.scopes():
            for node in walk_scope(scope):
                name = None
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                    num = node.left
                    if isinstance(num, ast.Call) and call_name(num) == "sum" and num.args:
                        num = num.args[0]
                    den = node.right
                    den_is_count = (isinstance(den, ast.Call) and call_name(den) == "len") or bool(
                        word_set(den) & {"batches", "steps", "iters", "iterations"}
                    )
                    if isinstance(num, (ast.Name, ast.Attribute)) and den_is_count:
                        name = dotted(num)
                elif (
                    isinstance(node, ast.Call)
                    and call_name(node) in MEAN_CALLS
                    and node.args
                    and isinstance(node.args[0], (ast.Name, ast.Attribute))
                ):
                    name = dotted(node.args[0])
                if not name or not tokens(name.split(".")[-1]) & METRIC_WORDS:
                    continue
                if _accumulated_in_loop(src, scope, name):
                    yield _hit(
                        src,
                        node,
                        f"`{ast.unparse(node)}` averages per-batch values of `{name}`: batches of "
                        "unequal size weigh the same",
                    )
