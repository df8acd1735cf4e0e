"""The static checks about PyTorch use: unsafe loading, device placement, gradient clipping,
scheduler intervals, evaluation mode and metric averaging (the data-handling checks are in
``checks.py``). Same conventions: one scope at a time, nothing imported or executed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mlflowctl.audit.checks import Hit, _hit
from mlflowctl.audit.project import (
    Project,
    Scope,
    SourceFile,
    assignments,
    call_name,
    calls_in,
    dotted,
    identifiers,
    is_const,
    kwarg,
    receiver,
    walk_scope,
    word_set,
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
