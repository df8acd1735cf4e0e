"""Agent specs: markdown + YAML frontmatter -> ``AgentSpec``.

Real spec files carry keys of many runtimes, so loading is tolerant where mlflowctl does not act
(unknown keys are kept aside as ``extras`` with a warning) and fail-closed where it does: tools are
deny-by-default (``spec_tools``), the role decides which typed policy is read, and that policy is
validated with ``extra="forbid"``. ``strict=True`` (``agents validate --strict``) turns every
warning into an error. Reading bytes and YAML lives in ``spec_yaml``, YAML 1.1 traps in
``spec_checks``.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, get_args

from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, ScalarNode

from mlflowctl.errors import SpecError
from mlflowctl.specs import frontmatter as spec_yaml
from mlflowctl.specs import permissions as spec_tools
from mlflowctl.specs import yaml_traps as spec_checks
from mlflowctl.specs.frontmatter import project_root, slugify, stem_name

if TYPE_CHECKING:
    from mlflowctl.blueprint.model import AgentRef

Role = Literal["ml-architect", "ml-engineer", "mlops-architect", "ml-orchestrator"]
ROLES: tuple[str, ...] = get_args(Role)
ENV_AGENTS_DIR = "MLFLOWCTL_AGENTS_DIR"

#: Claude Code's subagent keys plus mlflowctl's own (role, policy, extends, version)
KNOWN_KEYS = (
    "name", "description", "tools", "disallowedTools", "model", "role", "policy", "extends",
    "version", "color", "skills", "maxTurns", "memory", "effort", "permissionMode", "hooks",
    "mcpServers", "background", "isolation",
)  # fmt: skip
#: names other runtimes use for ``tools``; read as tools (with a warning) when ``tools`` is absent
TOOL_KEY_ALIASES = ("allowedTools", "allowed-tools", "allowed_tools")
_NEAR_MISSES = {"tool": "tools", "mcp_servers": "mcpServers", "disallowed_tools": "disallowedTools"}
_MODEL_ALIASES = ("sonnet", "opus", "haiku", "inherit")
_MAX_EXTENDS_DEPTH = 4

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class AgentSpec:
    """One loaded agent spec. ``body`` is the instructions (the LLM system prompt)."""

    name: str
    description: str | None
    #: tools as declared, normalized; None when the file has no ``tools`` key
    tools: tuple[str, ...] | None
    #: what the agent actually holds (deny-by-default, role rules applied)
    effective_tools: frozenset[str]
    model: str | None
    role: Role | None
    #: the ``mlflowctl.policy`` model of the role (None without a role); typed ``Any`` so callers
    #: can read ``spec.policy.max_retries``; ``policy_as(ArchitectPolicy)`` gives a checked view
    policy: Any
    body: str
    source: Path
    sha256: str
    extras: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: every frontmatter key, JSON-safe (for ``agents show`` and ``agents export``)
    frontmatter: dict[str, Any] = field(default_factory=dict)
    disallowed_tools: tuple[str, ...] = ()
    lenient: bool = False

    @property
    def slug(self) -> str:
        """Kebab-case id of the declared name (``MLOps Engineer`` -> ``mlops-engineer``)."""
        return slugify(self.name)

    def ref(self) -> AgentRef:
        """The ``AgentRef`` a Blueprint's provenance records."""
        from mlflowctl.blueprint.model import AgentRef

        return AgentRef(name=self.slug, sha256=self.sha256)

    def policy_as(self, model: type[P]) -> P:
        """The policy as its concrete model: ``spec.policy_as(ArchitectPolicy)``."""
        if not isinstance(self.policy, model):
            raise SpecError(
                f"agent {self.name} has no {model.__name__} policy (role: {self.role})",
                hint="set `role:` in the spec's frontmatter",
                location=str(self.source),
            )
        return self.policy

    def summary(self) -> dict[str, Any]:
        """JSON-safe view used by ``agents list/show --json``."""
        return {
            "name": self.name,
            "role": self.role,
            "model": self.model,
            "description": self.description,
            "tools": list(self.tools) if self.tools is not None else None,
            "effective_tools": sorted(self.effective_tools),
            "disallowed_tools": list(self.disallowed_tools),
            "policy": self.policy.model_dump(mode="json") if self.policy else None,
            "source": str(self.source),
            "sha256": self.sha256,
            "extras": self.extras,
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- loading one file


def _read(path: Path, root: Path, depth: int) -> tuple[spec_yaml.Frontmatter, bytes]:
    source = str(path)
    raw = spec_yaml.read_bytes(path)
    front = spec_yaml.parse(spec_yaml.decode(raw, source), source)
    spec_checks.check_front(front, source)
    parent_ref = front.data.pop("extends", None)
    if parent_ref is None:
        return front, raw
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise SpecError("extends: must be a relative path to another spec", location=source)
    if depth >= _MAX_EXTENDS_DEPTH:
        raise SpecError(f"extends: chain deeper than {_MAX_EXTENDS_DEPTH}", location=source)
    target = (path.parent / parent_ref).resolve()
    if not target.is_relative_to(root):
        raise SpecError(
            f"extends: `{parent_ref}` resolves outside the project root {root}",
            hint="a spec may only extend specs inside its project (no `..`, no symlinks out)",
            location=source,
        )
    parent, parent_raw = _read(target, root, depth + 1)
    merged = {**parent.data, **front.data}
    front.warnings[:0] = [f"{target.name}: {w}" for w in parent.warnings]
    front.data = merged
    front.nodes = {**parent.nodes, **front.nodes}
    front.body = front.body or parent.body
    return front, parent_raw + b"\0" + raw


def load_spec(path: str | Path, *, strict: bool = False, root: Path | None = None) -> AgentSpec:
    """Load one spec file; raise ``SpecError`` naming the file (and line or field) on failure."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise SpecError("is a folder, not a spec file", hint="pass the .md files", location=source)
    front, raw = _read(path, root or project_root(path), 0)
    data, warnings = front.data, front.warnings
    known = dict.fromkeys(KNOWN_KEYS)

    tools_value = data.get("tools")
    extras: dict[str, Any] = {}
    for key, value in data.items():
        if key in known:
            continue
        if key in TOOL_KEY_ALIASES and "tools" not in data:
            warnings.append(
                f"`{key}` is not a subagent key; read as `tools` (did you mean `tools`?)"
            )
            tools_value = value
            continue
        hint = _NEAR_MISSES.get(key) or next(
            iter(difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.8)), None
        )
        warnings.append(f"unknown key `{key}` kept as an extra" + (
            f" (did you mean `{hint}`?)" if hint else ""))  # fmt: skip
        extras[key] = spec_yaml.json_safe(value)

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        name = stem_name(path)
        warnings.append(f"no `name`; using `{name}` from the file name")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise SpecError("description: must be text", hint="quote it", location=source)
    if not description:
        warnings.append("no `description`: Claude Code uses it to decide when to delegate")
    model = data.get("model")
    if model is not None:
        model = str(model)
        if model not in _MODEL_ALIASES and not model.startswith("claude-"):
            warnings.append(f"model `{model}` is not a Claude alias or model id; kept as written")

    role = _role(data.get("role"), slugify(name), source, warnings, extras)
    declared = spec_tools.normalize(tools_value, warnings)
    disallowed = spec_tools.normalize(data.get("disallowedTools"), warnings, "disallowedTools")
    effective = spec_tools.effective(declared, disallowed or [], role, warnings)
    policy = _policy(role, data.get("policy"), front, source, warnings, extras)

    spec = AgentSpec(
        name=name.strip(),
        description=description or None,
        tools=tuple(declared) if declared is not None else None,
        effective_tools=effective,
        model=model,
        role=role,
        policy=policy,
        body=front.body,
        source=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        extras=extras,
        warnings=tuple(warnings),
        frontmatter=spec_yaml.json_safe(data),
        disallowed_tools=tuple(disallowed or ()),
        lenient=front.lenient,
    )
    if strict and spec.warnings:
        more = f" (and {len(spec.warnings) - 1} more)" if len(spec.warnings) > 1 else ""
        hint = "--strict turns warnings into errors; fix the spec or drop --strict"
        if any("unknown tool" in w for w in spec.warnings):
            hint = f"valid tool names: {spec_tools.valid_names()}"
        raise SpecError(
            spec.warnings[0] + more,
            hint=hint,
            location=source,
            details={"warnings": list(spec.warnings)},
        )
    return spec


def _role(
    value: Any, slug: str, source: str, warnings: list[str], extras: dict[str, Any]
) -> Role | None:
    inferred = slug if slug in ROLES else None
    if value is None:
        return cast(Role | None, inferred)
    if value in ROLES:
        if inferred and value != inferred:
            raise SpecError(
                f"role: `{value}` contradicts the agent name `{slug}`",
                hint="an agent named after a role must hold that role",
                location=source,
            )
        return cast(Role, value)
    close = difflib.get_close_matches(str(value), ROLES, n=1, cutoff=0.8)
    warnings.append(
        f"role `{value}` is not an mlflowctl role ({', '.join(ROLES)}); kept as an extra"
        + (f" (did you mean `{close[0]}`?)" if close else "")
    )
    extras["role"] = spec_yaml.json_safe(value)
    return cast(Role | None, inferred)


def _policy(
    role: Role | None,
    value: Any,
    front: spec_yaml.Frontmatter,
    source: str,
    warnings: list[str],
    extras: dict[str, Any],
) -> BaseModel | None:
    from mlflowctl.specs.policy import POLICY_MODELS

    if role is None:
        if value is not None:
            warnings.append("`policy` ignored: the agent has no mlflowctl role")
            extras["policy"] = spec_yaml.json_safe(value)
        return None
    model = POLICY_MODELS[role]
    if value is None:
        warnings.append("no `policy` block; using the built-in defaults")
        value = {}
    if not isinstance(value, dict):
        raise SpecError("policy: must be a mapping of settings", location=source)
    node = front.nodes.get("policy")
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            info = model.model_fields.get(str(key_node.value))
            if info is None or not isinstance(value_node, ScalarNode):
                continue
            why = spec_checks.trap(value_node, spec_checks.expected_kind(info.default))
            if why:
                line = value_node.start_mark.line + 2
                raise SpecError(
                    f"policy.{key_node.value}: {why}", hint="quote or rewrite the value",
                    location=f"{source}:{line}",
                )  # fmt: skip
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        hint = f"see the `{role}` policy fields: {', '.join(model.model_fields)}"
        if first["type"] == "extra_forbidden":
            close = difflib.get_close_matches(loc, list(model.model_fields), n=1, cutoff=0.6)
            if close:
                hint = f"did you mean `policy.{close[0]}`?"
        raise SpecError(
            f"policy.{loc}: {first['msg']}",
            hint=hint,
            location=source,
            details={"errors": [f"{e['loc']}: {e['msg']}" for e in exc.errors()]},
        ) from None


# --------------------------------------------------------------------------- folders


def builtin_dir() -> Path:
    from mlflowctl.resources import agents_dir

    return agents_dir()


def override_dir(agents_dir: str | Path | None = None) -> Path | None:
    """The user's spec folder: the argument, else None.

    ``None`` means "not given": library callers then get ``$MLFLOWCTL_AGENTS_DIR``. The CLI never
    relies on that: it reads ``--agents`` (or the variable) once into ``Settings`` and passes the
    folder, or ``""`` for "built-in specs only", explicitly.
    """
    if agents_dir is None:
        chosen: str | Path | None = os.environ.get(ENV_AGENTS_DIR) or None
    else:
        chosen = agents_dir or None
    if chosen is None:
        return None
    folder = Path(chosen).expanduser()
    if not folder.is_dir():
        raise SpecError(
            "agents folder not found",
            hint=f"--agents / {ENV_AGENTS_DIR} must name a folder of .md agent specs",
            location=str(folder),
        )
    return folder


def spec_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.md") if p.is_file())


def _scan(folder: Path) -> tuple[dict[str, AgentSpec], list[SpecError]]:
    found: dict[str, AgentSpec] = {}
    errors: list[SpecError] = []
    for path in spec_files(folder):
        try:
            spec = load_spec(path)
        except SpecError as exc:
            errors.append(exc)
            continue
        found.setdefault(spec.slug, spec)
    return found, errors


def list_agents(
    agents_dir: str | Path | None = None,
) -> tuple[list[AgentSpec], list[SpecError]]:
    """Built-in agents with the user's folder layered on top by name; files that fail are
    returned beside them (a bad README in the folder must not hide the other agents)."""
    specs, errors = _scan(builtin_dir())
    user = override_dir(agents_dir)
    if user is not None:
        overrides, user_errors = _scan(user)
        specs.update(overrides)
        errors.extend(e for e in user_errors if "no frontmatter" not in e.message)
    return sorted(specs.values(), key=lambda s: s.slug), errors


def load_agent(name: str, agents_dir: str | Path | None = None) -> AgentSpec:
    """The agent ``name``: from the user's folder if it defines it, else the built-in one."""
    slug = slugify(name)
    user = override_dir(agents_dir)
    for folder in (user, builtin_dir()):
        if folder is None:
            continue
        for candidate in (folder / f"{name}.md", folder / f"{name}.agent.md"):
            if candidate.is_file():
                spec = load_spec(candidate)
                if spec.slug == slug:
                    return spec
        found, _ = _scan(folder)
        if slug in found:
            return found[slug]
    known = sorted({s.slug for s in list_agents(agents_dir)[0]})
    raise SpecError(
        f"agent `{name}` not found",
        hint=f"known agents: {', '.join(known)}",
        location=str(user) if user else None,
    )
