"""Blueprint -> typed render context -> ``{relative path: text}``. Pure: nothing is written here.

Blueprint values may come from an LLM, so they reach generated code only in three checked ways:
``pylit`` (the ``ascii()``/``repr()`` of a checked scalar), ``pyident`` (an ASCII identifier) and
``token`` (a strict ASCII word, for Markdown and requirements). Everything else the project needs
goes into ``config.yaml``, written by ``yaml.safe_dump`` of a checked dict and read at run time;
free text (titles, summaries) never reaches a ``.py`` file at all. That dict and its YAML text are
built in ``build.config``.
"""

from __future__ import annotations

import contextlib
import keyword
import math
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from mlflowctl.blueprint.model import Blueprint
from mlflowctl.build.config import project_config, render_config
from mlflowctl.build.shaping import data_shaped
from mlflowctl.errors import BlueprintError, CodegenError
from mlflowctl.families import family as family_spec
from mlflowctl.specs.policy import EngineerPolicy

#: rendered path -> template (``{kind}`` is the approach's template kind)
TEMPLATE_FILES: dict[str, str] = {
    "model.py": "{kind}/model.py.j2",
    "data.py": "_common/data.py.j2",
    "preprocessing.py": "_common/preprocessing.py.j2",
    "predict.py": "_common/predict.py.j2",
    "train.py": "_common/train.py.j2",
    "evaluate.py": "_common/evaluate.py.j2",
    "plots.py": "_common/plots.py.j2",
    "baselines.py": "_common/baselines.py.j2",
    "reference.py": "_common/reference.py.j2",
    "README.md": "_common/README.md.j2",
    "requirements.txt": "_common/requirements.txt.j2",
    ".claude/tasks/ml-engineer-tasks.md": "_common/tasks.md.j2",
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}$")
_BUILTIN = re.compile(r"^(sklearn|statsmodels):")
#: the closed sets a template may specialise on with ``{% if %}`` (never on free values)
DATA_KINDS = ("tabular", "image", "series")
SOURCE_FORMATS = ("sklearn", "statsmodels", "csv", "parquet", "npz")


# --------------------------------------------------------------------------- filters


def pylit(value: object) -> str:
    """A Python literal of a checked scalar; strings come out pure ASCII."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodegenError(f"refusing to render a non-finite number ({value!r})")
        return repr(value)
    if isinstance(value, str):
        literal = ascii(value)
        if literal.startswith("'") and '"' not in value:  # no quote inside: use double quotes
            literal = f'"{literal[1:-1]}"'
        return literal
    raise CodegenError(f"refusing to render a {type(value).__name__} as a literal")


def pyident(value: object) -> str:
    """An ASCII Python identifier (closed-set names: families, approaches, tasks)."""
    if not isinstance(value, str) or not _IDENT.match(value) or keyword.iskeyword(value):
        raise CodegenError(f"refusing to render {value!r} as an identifier")
    return value


def _unit_float(value: object) -> float:
    """A float strictly between 0 and 1 (the pinball loss's quantile), for ``pylit``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise CodegenError(f"refusing to render {value!r} as a quantile in (0, 1)")
    return float(value)


def _cost_ratio(value: object) -> float:
    """A finite float in (0, 1000] (a missed positive's cost in false alarms), for ``pylit``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1000:
        raise CodegenError(f"refusing to render {value!r} as a cost ratio in (0, 1000]")
    return float(value)


def token(value: object) -> str:
    """A strict ASCII word for Markdown and requirements (ids, dates, package names)."""
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise CodegenError(f"refusing to render {value!r} as a token")
    return value


@cache
def environment() -> Any:
    """The one jinja2 Environment: strict undefined, no autoescape, only our filters."""
    import jinja2

    from mlflowctl.resources import templates_dir

    class QuietCache(jinja2.FileSystemBytecodeCache):
        """jinja's cache of compiled templates (a private folder per user, keyed by the template's
        source; 0.05 s a build); a cache it cannot write is skipped, never an error."""

        def dump_bytecode(self, bucket: Any) -> None:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    try:
        bytecode: Any = QuietCache()
    except (OSError, RuntimeError):  # no usable temporary folder: compile each time
        bytecode = None
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        bytecode_cache=bytecode,
    )
    env.filters.clear()
    env.filters.update({"pylit": pylit, "pyident": pyident, "token": token})
    return env


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class RenderContext:
    """Everything the templates may see; every field is checked before it gets here."""

    blueprint_id: str
    approach: str
    family: str
    template_kind: str
    task: str
    parameter_count: int
    max_epochs: int
    rendered_on: str
    extra_requirements: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)

    def variables(self) -> dict[str, Any]:
        return {
            "blueprint_id": self.blueprint_id,
            "approach": self.approach,
            "family": self.family,
            "template_kind": self.template_kind,
            "task": self.task,
            "parameter_count": self.parameter_count,
            "max_epochs": self.max_epochs,
            "rendered_on": self.rendered_on,
            "extra_requirements": list(self.extra_requirements),
            "distributed": self._distributed(),
            **self.specialisation(),
        }

    def specialisation(self) -> dict[str, Any]:
        """The closed-set values the templates branch on: data kind, source format, loss.

        A project carries only the code its task, data kind and loss need; the placeholder render
        keeps these values, so the AST shape check runs per combination.
        """
        data = self.config.get("data") or {}
        forecast = self.task == "forecasting"
        kind = data.get("kind") or ("series" if forecast else "tabular")
        fmt = source_format(str(data.get("source") or ("statsmodels:" if forecast else "sklearn:")))
        default_loss = "cross_entropy" if self.task == "classification" else "mse"
        loss = ((self.config.get("training") or {}).get("loss") or {}).get("name", default_loss)
        if kind not in DATA_KINDS:
            raise CodegenError(f"refusing to render data kind {kind!r}")
        quantile = ((self.config.get("training") or {}).get("loss") or {}).get("quantile")
        rule = (self.config.get("evaluation") or {}).get("decision_threshold") or {}
        miss_cost = rule.get("miss_cost") if rule.get("tune_for") == "cost" else None
        return {
            "data_kind": kind,
            "source_format": fmt,
            "loss": pyident(loss),
            "quantile": _unit_float(quantile) if loss == "pinball" else None,
            "miss_cost": None if miss_cost is None else _cost_ratio(miss_cost),
        }

    def _distributed(self) -> dict[str, Any]:
        """README's scale section: the devices, strategy and batches config.yaml states."""
        dist = self.config.get("training", {}).get("distributed")
        if not dist:  # a bare context (tests): one device
            return {"strategy": "auto", "devices": 1, "num_nodes": 1, "accumulate": 1,
                    "effective_batch_size": 1}  # fmt: skip
        return {
            "strategy": dist["strategy"],
            "devices": dist["devices"],
            "num_nodes": dist["num_nodes"],
            "accumulate": dist["accumulate_grad_batches"],
            "effective_batch_size": dist["effective_batch_size"],
        }


def source_format(source: str) -> str:
    """How the rendered ``data.py`` reads ``source``: a bundled set or a file format."""
    if _BUILTIN.match(source):
        return source.split(":", 1)[0]
    suffix = source.rsplit(".", 1)[-1].lower() if "." in source else ""
    suffix = "parquet" if suffix == "pq" else suffix
    return suffix if suffix in ("parquet", "npz") else "csv"


def data_source(blueprint: Blueprint, data: str | None = None) -> str:
    """The source to train on: ``--data``, else the requirement's, else the profiled one."""
    source = data or blueprint.requirements.data_source
    if not source and blueprint.data_profile is not None:
        source = blueprint.data_profile.source
    if not source:
        raise BlueprintError(
            "the blueprint names no data source",
            hint="pass --data SOURCE (e.g. sklearn:digits or a CSV file)",
            location="requirements.data_source",
        )
    return source


def _requirements(source: str) -> tuple[str, ...]:
    if source.startswith("statsmodels:"):
        return ("statsmodels",)
    lowered = source.lower()
    if lowered.endswith(".parquet"):
        return ("pyarrow",)
    return ()


def context(
    blueprint: Blueprint,
    approach: str | None = None,
    *,
    data: str | None = None,
    policy: EngineerPolicy | None = None,
    rendered_on: str | None = None,
) -> RenderContext:
    source = data_source(blueprint, data)
    chosen = data_shaped(blueprint, blueprint.approach(approach), source)
    policy = policy or EngineerPolicy()
    day = rendered_on or date.today().isoformat()
    family = chosen.model.family
    return RenderContext(
        blueprint_id=blueprint.provenance.blueprint_id,
        approach=chosen.name,
        family=family,
        template_kind=family_spec(family).template_kind,
        task=blueprint.requirements.task,
        parameter_count=chosen.model.parameter_count,
        max_epochs=chosen.training.max_epochs,
        rendered_on=day,
        extra_requirements=_requirements(source),
        config=project_config(blueprint, chosen, source, policy, day),
    )


def placeholder_context(ctx: RenderContext) -> RenderContext:
    """The same template kind with fixed placeholder values: the golden shape to compare with."""
    return RenderContext(
        blueprint_id="bp-000000000000",
        approach="placeholder",
        family=ctx.family,
        template_kind=ctx.template_kind,
        task=ctx.task,  # a closed set the templates specialise on, like the family
        parameter_count=1,
        max_epochs=1,
        rendered_on="2000-01-01",
        extra_requirements=ctx.extra_requirements,
        config=ctx.config,
    )


# --------------------------------------------------------------------------- rendering


def render_files(ctx: RenderContext) -> dict[str, str]:
    env = environment()
    variables = ctx.variables()
    files = {
        path: env.get_template(name.format(kind=ctx.template_kind)).render(**variables)
        for path, name in TEMPLATE_FILES.items()
    }
    files["config.yaml"] = render_config(ctx.config)
    return files


def render(
    blueprint: Blueprint,
    approach: str | None = None,
    *,
    data: str | None = None,
    policy: EngineerPolicy | None = None,
) -> dict[str, str]:
    """``{relative path: text}`` of the project for one approach (the recommended by default)."""
    return render_files(context(blueprint, approach, data=data, policy=policy))
