"""One Settings object per command and one tracking-URI rule, driven through the real CLI.

The rule: ``--tracking-uri`` > ``MLFLOW_TRACKING_URI`` > the mlops-architect spec's
``policy.tracking_uri`` (``--agents DIR``) > ``sqlite:///mlflow.db``, relative SQLite paths made
absolute against the directory the command runs in. ``build``, ``run``, ``registry`` and
``doctor`` must agree on it in every case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from blueprints import make_blueprint

from mlflowctl.resources import agents_dir
from mlflowctl.settings import environ_snapshot

ENV_VARS = ("MLFLOW_TRACKING_URI", "MLFLOWCTL_AGENTS_DIR")


def cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m mlflowctl ARGS`` in ``cwd`` with no tracking URI or agents folder inherited."""
    full = {k: v for k, v in environ_snapshot().items() if k not in ENV_VARS}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def override_agents(tmp_path: Path, **policy: str) -> Path:
    """A folder with a copy of ``agents/mlops-architect.md`` whose policy lines are replaced."""
    folder = tmp_path / "my-agents"
    folder.mkdir(exist_ok=True)
    text = (agents_dir() / "mlops-architect.md").read_text(encoding="utf-8")
    for key, value in policy.items():
        lines = text.splitlines(keepends=True)
        hits = [i for i, line in enumerate(lines) if line.startswith(f"  {key}:")]
        assert len(hits) == 1, key
        lines[hits[0]] = f"  {key}: {value}\n"
        text = "".join(lines)
    (folder / "mlops-architect.md").write_text(text, encoding="utf-8")
    return folder


def databases(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.db")}


def doctor_json(cwd: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    proc = cli(cwd, *args, env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert isinstance(report, dict)
    return report


# --------------------------------------------------------------------------- the scenario


@pytest.mark.integration
@pytest.mark.slow  # two tiny trainings: ~60 s alone, ~160 s on the shared 2-core box
def test_override_spec_store_is_used_by_build_registry_run_and_doctor(tmp_path: Path) -> None:
    """An override spec with ``sqlite:///custom.db`` through ``--agents DIR``: every command
    uses ``custom.db`` in the current directory and no ``mlflow.db`` appears anywhere."""
    agents = override_agents(tmp_path, tracking_uri="sqlite:///custom.db")
    (tmp_path / "bp.yaml").write_text(make_blueprint("mlp", "iris").to_yaml(), encoding="utf-8")
    store = tmp_path / "custom.db"

    built = cli(tmp_path, "--agents", str(agents), "build", "bp.yaml", "--max-epochs", "1",
                "--accelerator", "cpu", "--json")  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert databases(tmp_path) == {"custom.db"}
    model = json.loads(built.stdout)["model_name"]

    listed = cli(tmp_path, "--agents", str(agents), "registry", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [m["name"] for m in json.loads(listed.stdout)] == [model]

    ran = cli(tmp_path, "--agents", str(agents), "run", "classify iris flowers", "--data",
              "sklearn:iris", "--max-epochs", "1", "--accelerator", "cpu", "--json")  # fmt: skip
    assert ran.returncode in (0, 8), ran.stderr  # 8: a gate that did not promote is fine here
    assert databases(tmp_path) == {"custom.db"}
    listed = cli(tmp_path, "--agents", str(agents), "registry", "list", "--json")
    names = {m["name"] for m in json.loads(listed.stdout)}
    assert names == {model, json.loads(ran.stdout)["model_name"]}

    report = doctor_json(tmp_path, "--agents", str(agents), "doctor", "--json")
    tracking = report["tracking"]
    assert isinstance(tracking, dict)
    assert tracking["uri"] == f"sqlite:///{store.resolve()}"
    assert tracking["source"] == "mlops-architect policy"
    text = cli(tmp_path, "--agents", str(agents), "doctor").stdout
    squeezed = "".join(c for c in text if not c.isspace() and c != "│")  # the table may wrap
    assert f"sqlite:///{store.resolve()}(frommlops-architectpolicy)" in squeezed
    # without the override the built-in policy (mlflow.db) applies: the override was explicit
    plain = doctor_json(tmp_path, "doctor", "--json")["tracking"]
    assert isinstance(plain, dict) and plain["uri"] == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


# --------------------------------------------------------------------------- each source


SOURCES = ("flag", "env", "policy", "default")


def _source_args(
    source: str, tmp_path: Path, value: str
) -> tuple[list[str], list[str], dict[str, str]]:
    """(root args, command args, env) that make ``value`` come from ``source``."""
    if source == "flag":
        return [], ["--tracking-uri", value], {}
    if source == "env":
        return [], [], {"MLFLOW_TRACKING_URI": value}
    if source == "policy":
        return ["--agents", str(override_agents(tmp_path, tracking_uri=value))], [], {}
    return [], [], {}


EXPECTED_SOURCE = {
    "flag": "--tracking-uri",
    "env": "MLFLOW_TRACKING_URI",
    "policy": "mlops-architect policy",
    # the shipped spec sets tracking_uri: sqlite:///mlflow.db, so the "default" store is its
    "default": "mlops-architect policy",
}


@pytest.mark.integration
@pytest.mark.parametrize("source", SOURCES)
def test_doctor_and_registry_agree_on_each_source(tmp_path: Path, source: str) -> None:
    """Relative paths resolve against the command's directory, whichever source names them."""
    work = tmp_path / "work"
    work.mkdir()
    name = "mlflow.db" if source == "default" else f"{source}.db"
    root, args, env = _source_args(source, tmp_path, f"sqlite:///{name}")
    report = doctor_json(work, *root, "doctor", *args, "--json", env=env)
    tracking = report["tracking"]
    assert isinstance(tracking, dict)
    assert tracking["uri"] == f"sqlite:///{(work / name).resolve()}"
    assert tracking["source"] == EXPECTED_SOURCE[source]

    listed = cli(work, *root, "registry", "list", *args, "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    assert databases(work) == {name}


@pytest.mark.integration
@pytest.mark.parametrize("source", ["flag", "env", "policy"])
@pytest.mark.parametrize("command", ["build", "run", "registry", "doctor"])
def test_every_command_reads_each_source_and_names_it(
    tmp_path: Path, source: str, command: str
) -> None:
    """A URI that names no file, from each source: every command fails the same way, exit 2, one
    error line naming where the URI came from, before it writes anything."""
    (tmp_path / "bp.yaml").write_text(make_blueprint("mlp", "iris").to_yaml(), encoding="utf-8")
    root, args, env = _source_args(source, tmp_path, "sqlite:///")
    before = {p.name for p in tmp_path.iterdir()}
    rest = {
        "build": ["build", "bp.yaml", *args],
        "run": ["run", "classify iris flowers", "--data", "sklearn:iris", *args],
        "registry": ["registry", "list", *args],
        "doctor": ["doctor", *args],
    }[command]
    proc = cli(tmp_path, *root, *rest, env=env)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {EXPECTED_SOURCE[source]}: sqlite URI 'sqlite:///' names no file"]
    assert {p.name for p in tmp_path.iterdir()} == before  # no builds/, runs/ or store


@pytest.mark.integration
def test_run_help_names_the_current_directory_not_the_workdir(tmp_path: Path) -> None:
    proc = cli(tmp_path, "run", "--help")
    assert proc.returncode == 0
    assert "in the workdir" not in proc.stdout
    assert "current directory" in " ".join(proc.stdout.split())


# --------------------------------------------------------------------------- environment snapshot


@pytest.mark.unit
def test_redact_survives_a_thread_changing_the_environment() -> None:
    """X9: ``redact`` while another thread sets and removes variables never raises."""
    from mlflowctl.mlops.store import redact

    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            os.environ["_MLFLOWCTL_TEST_CHURN"] = f"value-{i}"
            os.environ[f"_MLFLOWCTL_TEST_CHURN_{i % 50}"] = "x"
            os.environ.pop("_MLFLOWCTL_TEST_CHURN", None)
            os.environ.pop(f"_MLFLOWCTL_TEST_CHURN_{(i + 25) % 50}", None)
            i += 1

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        for _ in range(5000):
            assert redact("https://u:p@host/x") == "https://***@host/x"
            environ_snapshot()
    finally:
        stop.set()
        thread.join()
        for key in [k for k in environ_snapshot() if k.startswith("_MLFLOWCTL_TEST_CHURN")]:
            os.environ.pop(key, None)


@pytest.mark.unit
def test_no_module_iterates_the_live_environment() -> None:
    src = Path(__file__).resolve().parent.parent / "src" / "mlflowctl"
    bad = ("os.environ.items()", "os.environ.keys()", "os.environ.values()", "in os.environ:",
           "**os.environ", "dict(os.environ)")  # fmt: skip
    hits = [
        f"{path.relative_to(src)}: {needle}"
        for path in src.rglob("*.py")
        for needle in bad
        if needle in path.read_text(encoding="utf-8")
        and not (path.name == "__init__.py" and needle == "dict(os.environ)")
    ]
    assert hits == []
