"""Issue 15: the blueprint's scale fields reach the rendered Trainer (render tests, no training).

The 14M-parameter design from the ml-architect's example prompt is designed and built with the
real CLI; the rendered ``train.py`` is then imported and asked which strategy, devices and
accumulation its Trainer gets, exactly as ``python train.py`` would resolve them.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from blueprints import make_blueprint

from mlflowctl.design import design

PROMPT_14M = "Design distributed training architecture for a 14M parameter model"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _import_train(root: Path) -> Any:
    """The rendered train.py as a module (its folder first on sys.path, as python train.py)."""
    sys.path.insert(0, str(root))
    try:
        for name in ("data", "model", "evaluate", "train"):
            sys.modules.pop(name, None)
        spec = importlib.util.spec_from_file_location("train", root / "train.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(root))
        for name in ("data", "model", "evaluate", "train"):
            sys.modules.pop(name, None)


def _trainer_keywords(source: str) -> dict[str, str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "L.Trainer":
            return {k.arg: ast.unparse(k.value) for k in node.keywords if k.arg}
    raise AssertionError("no L.Trainer(...) call in train.py")


@pytest.fixture(scope="module")
def built_14m(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    cwd = tmp_path_factory.mktemp("scale")
    proc = _cli("design", PROMPT_14M, "-o", "bp.yaml", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    proc = _cli(
        "build", "bp.yaml", "--data", "statsmodels:sunspots", "--dry-run", "--json", cwd=cwd
    )
    assert proc.returncode == 0, proc.stderr
    dry = json.loads(proc.stdout)
    proc = _cli("build", "bp.yaml", "--data", "statsmodels:sunspots", "--no-train", "--out", "b",
                cwd=cwd)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return cwd, dry


@pytest.mark.integration
def test_14m_design_renders_its_strategy_devices_and_accumulation(
    built_14m: tuple[Path, dict[str, Any]],
) -> None:
    cwd, dry = built_14m
    bp = yaml.safe_load((cwd / "bp.yaml").read_text())
    rec = next(a for a in bp["approaches"] if a["name"] == bp["recommended"]["approach"])
    want = rec["training"]["distributed"]
    assert (want["strategy"], want["devices"], want["gradient_accumulation"]) == ("ddp", 4, 2)
    root = cwd / "b"
    cfg = yaml.safe_load((root / "config.yaml").read_text())
    dist = cfg["training"]["distributed"]
    assert dist["strategy"] == "ddp" and dist["devices"] == 4 and dist["num_nodes"] == 1
    assert dist["accumulate_grad_batches"] == 2
    assert dist["effective_batch_size"] == rec["training"]["batch_size"] * 4 * 2 == 256
    assert cfg["training"]["compile"]["enabled"] is rec["training"]["compile"] is True
    readme = (root / "README.md").read_text()
    assert "effective batch of\n256 samples" in readme or "effective batch of 256" in readme
    assert "torchrun --nproc-per-node" in readme and "srun" in readme
    # the Trainer call takes every scale value from the resolved arguments
    kw = _trainer_keywords((root / "train.py").read_text())
    assert kw["devices"] == "args.devices" and kw["num_nodes"] == "args.num_nodes"
    assert kw["strategy"] == "make_strategy(args, dist)"
    assert kw["accumulate_grad_batches"] == "accumulate"
    assert kw["sync_batchnorm"] == "dist['sync_batchnorm'] and world > 1"
    # and train.py resolves them to what the blueprint states (no flags, no launcher)
    train = _import_train(root)
    args = train.parse_args([])
    train.resolve_scale(args, dist)
    assert (args.devices, args.num_nodes, args.strategy, args.accumulate) == (4, 1, "ddp", 2)
    from lightning.pytorch.strategies import DDPStrategy

    strategy = train.make_strategy(args, dist)
    assert isinstance(strategy, DDPStrategy)
    assert strategy._timeout.total_seconds() == dist["timeout_s"]
    # flags win over config.yaml
    args = train.parse_args(["--devices", "2", "--strategy", "ddp", "--accumulate", "3"])
    train.resolve_scale(args, dist)
    assert (args.devices, args.strategy, args.accumulate) == (2, "ddp", 3)
    # no scale field is left unrendered
    assert not [u for u in dry["unhonoured"] if u.startswith("training.")], dry["unhonoured"]


@pytest.mark.unit
def test_architect_picks_fsdp_only_when_the_state_outgrows_a_device() -> None:
    small = design(PROMPT_14M).approach().training
    assert small.distributed.strategy == "ddp" and small.compile
    prompt = (
        "forecast the sensor series with a 200M parameter transformer on GPUs with 4 GB of memory"
    )
    big = design(prompt).approach().training
    assert big.distributed.strategy == "fsdp", big.distributed
    assert "exceed half of 4 GB" in big.distributed.reason
    cpu = design("classify the three wine cultivars with an MLP on a CPU").approach().training
    assert cpu.distributed.strategy == "none" and not cpu.compile


@pytest.mark.integration
def test_fsdp_for_a_recurrent_family_is_refused(tmp_path: Path) -> None:
    bp = tmp_path / "bp.yaml"
    bp.write_text(make_blueprint("lstm").to_yaml())
    proc = _cli("build", str(bp), "--strategy", "fsdp", "--no-train", "--json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "--strategy" in err[0] and "lstm" in err[0], proc.stderr
    assert json.loads(proc.stdout)["error"]
    assert not (tmp_path / "builds").exists()
    in_blueprint = make_blueprint(
        "lstm", training={"distributed": {"strategy": "fsdp", "devices": 2}}
    )
    bp.write_text(in_blueprint.to_yaml())
    proc = _cli("build", str(bp), "--no-train", cwd=tmp_path)
    assert proc.returncode == 2 and "training.distributed.strategy" in proc.stderr, proc.stderr


@pytest.mark.integration
@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--devices", "999", "--accelerator", "cpu"], "--devices"),
        (["--devices", "0"], "--devices"),
        (["--accumulate", "0"], "--accumulate"),
        (["--strategy", "deepspeed"], "--strategy"),
        (["--strategy", "fsdp", "--accelerator", "cpu"], "--strategy"),
    ],
)
def test_bad_scale_flags_exit_2_naming_the_flag(
    tmp_path: Path, flags: list[str], named: str
) -> None:
    bp = tmp_path / "bp.yaml"
    bp.write_text(make_blueprint("mlp", "wine").to_yaml())
    proc = _cli("build", str(bp), "--no-track", *flags, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and named in err[0], proc.stderr
    assert "hint" in proc.stderr or "found" in err[0] or "at least" in err[0]
    assert not (tmp_path / "builds").exists()
