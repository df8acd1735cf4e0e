"""The static checks behind the audit rules: each takes the parsed project, returns hits.

Every heuristic is written down next to its check (and in README's audit section) so a reader can
tell why a line was flagged, and why a similar one was not. Checks look at one scope (a module
body or one function body) unless they say otherwise; nothing is imported or executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from mlflowctl.audit.project import (
    Project,
    Scope,
    SourceFile,
    arguments,
    assignments,
    call_name,
    calls_in,
    dotted,
    identifiers,
    is_const,
    kwarg,
    pos,
    receiver,
    tokens,
    walk_scope,
    word_set,
)


@dataclass(frozen=True)
class Hit:
    """One place a check flags: file (relative), line, and what exactly is wrong there."""

    file: str
    line: int
    message: str


def _hit(src: SourceFile, node: ast.AST, message: str) -> Hit:
    return Hit(src.rel, getattr(node, "lineno", 1), message)


# --- parse-error


def check_parse_error(project: Project) -> Iterator[Hit]:
    """A file that cannot be read or parsed: nothing else in it was checked."""
    for src in project.files:
        if src.error is not None:
            yield Hit(src.rel, src.error_line, f"{src.rel} {src.error}; it was not audited")


# --- fit-before-split

#: train/test splitting calls (function names) and splitter classes (name suffixes)
SPLIT_FUNCS = frozenset({"train_test_split", "random_split"})
SPLITTER_CLASS = re.compile(r"(KFold|ShuffleSplit|TimeSeriesSplit|GroupSplit)$")
#: classes whose .fit learns statistics of the data (scalers, encoders, imputers, projections)
PREPROCESSOR = re.compile(
    r"(Scaler|Encoder|Normalizer|Imputer|PCA|Discretizer|Binarizer|Vectorizer|"
    r"QuantileTransformer|PowerTransformer|ColumnTransformer|FunctionTransformer)$"
)
STAT_METHODS = frozenset({"mean", "std", "var", "min", "max", "median", "quantile", "nanmean"})


def _ctor_name(expr: ast.expr | None, values: dict[str, list[ast.expr]]) -> str:
    """The class a receiver was built from: ``StandardScaler`` for ``s = StandardScaler()``."""
    if isinstance(expr, ast.Call):
        return call_name(expr)
    if isinstance(expr, (ast.Name, ast.Attribute)):
        for value in values.get(dotted(expr), []):
            if isinstance(value, ast.Call):
                return call_name(value)
    return ""


def _split_calls(scope: Scope, values: dict[str, list[ast.expr]]) -> list[ast.Call]:
    out = []
    for call in calls_in(scope):
        name = call_name(call)
        splitter = name == "split" and SPLITTER_CLASS.search(_ctor_name(receiver(call), values))
        if name in SPLIT_FUNCS or splitter:
            out.append(call)
    return out


def check_fit_before_split(project: Project) -> Iterator[Hit]:
    """A scaler/encoder fitted, or mean/std taken, on data that is split only afterwards.

    Within one scope: a ``.fit``/``.fit_transform`` of a preprocessor class (any
    ``.fit_transform``), or ``X.mean()``/``np.std(X)`` on a bare name later passed to
    ``train_test_split``/``random_split``/a splitter's ``.split``, placed before that split.
    """
    for src in project.parsed():
        for scope in src.scopes():
            values = assignments(scope)
            splits = _split_calls(scope, values)
            if not splits:
                continue
            first = min(splits, key=pos)
            split_names = {
                dotted(a)
                for s in splits
                for a in s.args
                if isinstance(a, (ast.Name, ast.Attribute))
            }
            for call in calls_in(scope):
                if pos(call) >= pos(first):
                    continue
                name = call_name(call)
                rec = receiver(call)
                ctor = _ctor_name(rec, values)
                if name == "fit_transform" or (name == "fit" and PREPROCESSOR.search(ctor)):
                    what = ctor or dotted(call.func)
                    yield _hit(
                        src,
                        call,
                        f"`{what}.{name}` runs on the data before it is split (line "
                        f"{first.lineno}), so its statistics include the validation/test rows",
                    )
                    continue
                stat_of = None
                if name in STAT_METHODS and isinstance(rec, (ast.Name, ast.Attribute)):
                    if dotted(rec) not in {"np", "numpy", "torch", "statistics"}:
                        stat_of = dotted(rec)
                    elif call.args and isinstance(call.args[0], (ast.Name, ast.Attribute)):
                        stat_of = dotted(call.args[0])
                if stat_of and stat_of in split_names:
                    yield _hit(
                        src,
                        call,
                        f"`{stat_of}` is normalised with its own {name} before the split (line "
                        f"{first.lineno}), so the statistic includes the validation/test rows",
                    )


# --- random split of a time series

#: identifier words that mark time-ordered data (the heuristic, documented in README)
TIME_WORDS = frozenset(
    {
        "series", "timeseries", "horizon", "lag", "lags", "lookback", "forecast", "forecasts",
        "forecasting", "window", "windows", "windowed", "timestep", "timesteps", "date", "dates",
        "datetime", "timestamp", "timestamps",
    }
)  # fmt: skip
#: calls (last name) and keywords that build a date index or lag features
DATE_CALLS = frozenset(
    {"to_datetime", "date_range", "DatetimeIndex", "resample", "shift", "rolling", "asfreq"}
)
DATE_KWARGS = frozenset({"parse_dates"})


def _is_window_slice(node: ast.AST) -> bool:
    """``a[i : i + k]`` or ``a[t - k : t]``: a sliding window over an ordered array."""
    if not isinstance(node, ast.Slice) or node.lower is None or node.upper is None:
        return False
    lo, hi = node.lower, node.upper
    if isinstance(hi, ast.BinOp) and isinstance(hi.op, ast.Add):
        return ast.dump(hi.left) == ast.dump(lo)
    if isinstance(lo, ast.BinOp) and isinstance(lo.op, ast.Sub):
        return ast.dump(lo.left) == ast.dump(hi)
    return False


def _has_date_api(nodes: Iterator[ast.AST] | list[ast.AST]) -> bool:
    for node in nodes:
        if isinstance(node, ast.Call) and (
            call_name(node) in DATE_CALLS or any(k.arg in DATE_KWARGS for k in node.keywords)
        ):
            return True
    return False


def _builds_time_data(func: ast.AST) -> bool:
    """A project function whose body builds sliding windows or a date index."""
    nodes = list(ast.walk(func))
    return any(_is_window_slice(n) for n in nodes) or _has_date_api(nodes)


def _time_evidence(
    expr: ast.AST,
    values: dict[str, list[ast.expr]],
    funcs: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]],
    depth: int = 0,
) -> str | None:
    """Why the data in ``expr`` looks time-ordered, following assignments up to 3 steps back."""
    words = word_set(expr) & TIME_WORDS
    if words:
        return f"it uses `{sorted(words)[0]}`"
    if _has_date_api(list(ast.walk(expr))):
        return "it is built with a date index or lag features"
    for call in (n for n in ast.walk(expr) if isinstance(n, ast.Call)):
        name = call_name(call)
        if any(_builds_time_data(f) for f in funcs.get(name, [])):
            return f"it comes from `{name}`, which builds sliding windows or a date index"
    if depth >= 3:
        return None
    for name in sorted(identifiers(expr)):
        for value in values.get(name, []):
            why = _time_evidence(value, values, funcs, depth + 1)
            if why:
                return why
    return None


def _random_split_kind(call: ast.Call) -> str | None:
    name = call_name(call)
    if name == "train_test_split" and not is_const(kwarg(call, "shuffle"), False):
        return "`train_test_split` shuffles by default"
    if name == "random_split":
        return "`random_split` draws a random permutation"
    return None


def check_random_split_time_series(project: Project) -> Iterator[Hit]:
    """A shuffled split of data that is clearly time-ordered.

    Flags ``train_test_split`` without ``shuffle=False``, ``random_split``, ``ShuffleSplit`` and
    ``KFold(shuffle=True)`` when the data split (its arguments, followed back through up to three
    assignments in the scope, or the scope itself) shows time order: an identifier with one of
    ``TIME_WORDS`` (series, horizon, lag, lookback, window, date, ...), a date index or lag
    features (``to_datetime``, ``parse_dates=``, ``date_range``, ``.shift``, ``.rolling``), or
    a project function that builds sliding windows (``a[i : i + k]``).
    """
    funcs = project.function_bodies()
    for src in project.parsed():
        for scope in src.scopes():
            values = assignments(scope)
            scope_dates = _has_date_api(list(walk_scope(scope)))
            for call in calls_in(scope):
                kind = _random_split_kind(call)
                name = call_name(call)
                shuffles = "Shuffle" in name or is_const(kwarg(call, "shuffle"), True)
                if kind is None and SPLITTER_CLASS.search(name) and shuffles:
                    kind = f"`{name}` shuffles before splitting"
                if kind is None:
                    continue
                why = None
                for arg in arguments(call):
                    why = _time_evidence(arg, values, funcs)
                    if why:
                        break
                if why is None and scope_dates:
                    why = "the same code builds a date index or lag features"
                if why:
                    yield _hit(
                        src,
                        call,
                        f"{kind}, but the data is time-ordered ({why}): the model trains on the "
                        "future and is tested on the past",
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


# --- no seed

SEED_CALLS = frozenset(
    {"seed_everything", "manual_seed", "manual_seed_all", "seed", "set_seed", "set_random_seed"}
)
RNG_CTORS = frozenset({"default_rng", "RandomState", "Generator"})
TRAIN_CALLS = frozenset({"fit", "backward"})


def check_no_seed(project: Project) -> Iterator[Hit]:
    """The project trains (``.fit``, ``.backward()``, ``Trainer``) but seeds nothing: no
    ``seed_everything``, ``torch.manual_seed``, ``np.random.seed``, ``random.seed`` or seeded
    ``default_rng(n)`` anywhere in the project."""
    first: tuple[SourceFile, ast.Call] | None = None
    for src in project.parsed():
        assert src.tree is not None
        for node in src.nodes():
            if not isinstance(node, ast.Call):
                continue
            name = call_name(node)
            if name in SEED_CALLS or (name in RNG_CTORS and (node.args or node.keywords)):
                return
            if first is None and (name in TRAIN_CALLS or name == "Trainer"):
                first = (src, node)
    if first is not None:
        src, node = first
        yield _hit(
            src,
            node,
            "the project trains but never seeds torch, NumPy or Python's random: two runs of "
            "the same code give different models and metrics",
        )


# --- torch.load


def _torch_aliases(src: SourceFile) -> tuple[set[str], set[str]]:
    """Names bound to the torch module, and names bound to ``torch.load`` itself."""
    modules, loads = {"torch"}, set()
    for node in src.nodes():
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "torch":
                    modules.add(alias.asname or "torch")
        elif isinstance(node, ast.ImportFrom) and node.module == "torch":
            for alias in node.names:
                if alias.name == "load":
                    loads.add(alias.asname or "load")
    return modules, loads


def check_torch_load(project: Project) -> Iterator[Hit]:
    """``torch.load`` (any alias) without ``weights_only=True``: it unpickles arbitrary objects."""
    for src in project.parsed():
        assert src.tree is not None
        modules, loads = _torch_aliases(src)
        for node in src.nodes():
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            is_load = (
                isinstance(func, ast.Attribute)
                and func.attr == "load"
                and isinstance(func.value, ast.Name)
                and func.value.id in modules
            ) or (isinstance(func, ast.Name) and func.id in loads)
            if not is_load:
                continue
            flag = kwarg(node, "weights_only")
            if is_const(flag, True):
                continue
            said = (
                "without `weights_only`"
                if flag is None
                else f"with `weights_only={ast.unparse(flag)}`"
            )
            yield _hit(
                src,
                node,
                f"`torch.load` {said}: loading a tampered or foreign checkpoint runs its code",
            )


# --- whole data set on the GPU

DATA_WORDS = frozenset(
    {"x", "y", "data", "dataset", "features", "inputs", "targets", "labels", "train", "test",
     "val", "valid", "samples", "images", "tensors"}
)  # fmt: skip
TENSOR_CTORS = frozenset(
    {"tensor", "as_tensor", "from_numpy", "Tensor", "FloatTensor", "LongTensor"}
)
SIZE_GUARDS = frozenset(
    {"numel", "nbytes", "element_size", "mem_get_info", "total_memory", "get_device_properties",
     "memory_allocated", "memory_reserved", "getsizeof", "itemsize"}
)  # fmt: skip


def _mentions_cuda(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("cuda")
        for n in ast.walk(node)
    )


def _is_cuda_target(arg: ast.expr, values: dict[str, list[ast.expr]]) -> bool:
    if _mentions_cuda(arg):
        return True
    if isinstance(arg, (ast.Name, ast.Attribute)):
        return any(_mentions_cuda(v) for v in values.get(dotted(arg), []))
    return False


def _has_size_guard(scope: Scope) -> bool:
    for node in walk_scope(scope):
        if isinstance(node, ast.Compare) and identifiers(node) & SIZE_GUARDS:
            return True
    return False


def check_gpu_whole_dataset(project: Project) -> Iterator[Hit]:
    """A whole data set moved to a hard-coded CUDA device at once, with no size guard.

    Flags ``.cuda()`` or ``.to(<cuda>)`` (a ``"cuda..."`` literal, ``torch.device("cuda")``, or a
    variable assigned from one) outside any loop, on a tensor built from arrays
    (``torch.tensor``/``from_numpy``/...) or a name of data (``X``, ``data``, ``x_train``,
    ``dataset``, ...), in a scope with no comparison on ``numel``/``nbytes``/``mem_get_info``/
    ``total_memory`` (a size guard). A device handed over by Lightning (``trainer``'s
    ``root_device``, ``self.device``) is not hard-coded and not flagged: mlflowctl's rendered
    projects keep their small built-in data sets on that device on purpose.
    """
    for src in project.parsed():
        module_values = assignments(src.tree) if src.tree is not None else {}
        for scope in src.scopes():
            values = {**module_values, **assignments(scope)}
            guarded = _has_size_guard(scope)
            for call in calls_in(scope):
                name, rec = call_name(call), receiver(call)
                if rec is None or guarded or src.loops_of(call):
                    continue
                if name == "cuda" and not call.args:
                    target = True
                elif name == "to" and call.args:
                    target = _is_cuda_target(call.args[0], values)
                else:
                    target = False
                if not target:
                    continue
                data_like = (isinstance(rec, ast.Call) and call_name(rec) in TENSOR_CTORS) or (
                    isinstance(rec, (ast.Name, ast.Attribute, ast.Subscript))
                    and bool(word_set(rec) & DATA_WORDS)
                )
                if data_like:
                    yield _hit(
                        src,
                        call,
                        f"`{ast.unparse(rec)}` goes to the GPU whole, with no check of its size "
                        "against the device's memory",
                    )


# --- gradient clipping

RECURRENT = frozenset(
    {"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "Transformer",
     "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
     "TransformerDecoderLayer", "MultiheadAttention"}
)  # fmt: skip
CLIP_CALLS = frozenset({"clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "clip_gradients"})


def _torch_nn_names(src: SourceFile) -> set[str]:
    names = set()
    for node in src.nodes():
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("torch.nn"):
            names |= {a.asname or a.name for a in node.names}
    return names


def check_grad_clip(project: Project) -> Iterator[Hit]:
    """``nn.LSTM/GRU/RNN/Transformer*`` used, and no clipping anywhere: no ``clip_grad_norm_``,
    ``clip_grad_value_``, Lightning ``clip_gradients``, or ``gradient_clip_val=`` other than
    ``None``/``0``."""
    first: tuple[SourceFile, ast.Call] | None = None
    for src in project.parsed():
        assert src.tree is not None
        imported = _torch_nn_names(src)
        for node in src.nodes():
            if not isinstance(node, ast.Call):
                continue
            if call_name(node) in CLIP_CALLS:
                return
            clip = kwarg(node, "gradient_clip_val")
            off = isinstance(clip, ast.Constant) and (clip.value is None or clip.value == 0)
            if clip is not None and not off:
                return
            name = call_name(node)
            if first is None and name in RECURRENT:
                path = dotted(node.func)
                if path.startswith(("nn.", "torch.nn.")) or path in imported:
                    first = (src, node)
    if first is not None:
        src, node = first
        yield _hit(
            src,
            node,
            f"`{dotted(node.func)}` is trained without gradient clipping: recurrent and "
            "attention models are prone to exploding gradients",
        )


# --- scheduler stepped per epoch

PER_STEP_SCHEDULERS = frozenset({"OneCycleLR", "CyclicLR"})


def check_scheduler_interval(project: Project) -> Iterator[Hit]:
    """A per-step scheduler (``OneCycleLR``, ``CyclicLR``) stepped once per epoch: in Lightning's
    ``configure_optimizers`` with ``"interval": "epoch"`` or no ``"interval": "step"`` (the
    default is epoch); in a hand-written loop, ``scheduler.step()`` outside the innermost loop
    that calls ``optimizer.step()``."""
    for src in project.parsed():
        for scope in src.scopes():
            created = [c for c in calls_in(scope) if call_name(c) in PER_STEP_SCHEDULERS]
            if not created:
                continue
            kind = call_name(created[0])
            if isinstance(scope, ast.FunctionDef) and scope.name == "configure_optimizers":
                intervals = [
                    v.value
                    for d in walk_scope(scope)
                    if isinstance(d, ast.Dict)
                    for k, v in zip(d.keys, d.values, strict=True)
                    if is_const_str(k, "interval") and isinstance(v, ast.Constant)
                ]
                if "step" not in intervals:
                    said = '"interval": "epoch"' if intervals else 'no "interval": "step"'
                    yield _hit(
                        src,
                        created[0],
                        f"`{kind}` is returned with {said}: Lightning steps it once per epoch, "
                        "so the schedule meant for every batch barely moves",
                    )
                continue
            sched_names = _bound_names(scope, PER_STEP_SCHEDULERS)
            steps = [
                c for c in calls_in(scope) if call_name(c) == "step" and receiver(c) is not None
            ]
            opt_steps = [c for c in steps if dotted(receiver(c) or c) not in sched_names]
            if not opt_steps:
                continue
            opt_loop = src.loops_of(opt_steps[0])
            inner = opt_loop[0] if opt_loop else None
            for call in steps:
                if dotted(receiver(call) or call) not in sched_names:
                    continue
                if inner is not None and inner not in src.loops_of(call):
                    yield _hit(
                        src,
                        call,
                        f"`{kind}` is stepped outside the batch loop (once per epoch) but is "
                        "built for one step per batch",
                    )


def is_const_str(node: ast.AST | None, value: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == value


def _bound_names(scope: Scope, classes: frozenset[str]) -> set[str]:
    values = assignments(scope)
    return {
        name
        for name, assigned in values.items()
        if any(isinstance(v, ast.Call) and call_name(v) in classes for v in assigned)
    }


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
