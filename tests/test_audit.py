"""`mlflowctl audit PATH`: the ml-engineer's audit mode, driven through the real CLI.

Each rule has a fixture project under tests/fixtures/audit/<rule-id>/ with one planted defect
(the flagged lines carry a ``# planted`` comment); clean_* are hand-written clean projects; and
mlflowctl's own rendered projects, built from the templates as they are now, must come out clean
for every family.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlflowctl.audit import RULES
from mlflowctl.errors import EXIT_AUDIT_FINDINGS, EXIT_CODES, EXIT_INVALID_INPUT

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "audit"
RULE_IDS = [rule.id for rule in RULES]
HEAVY = ["torch", "lightning", "mlflow", "sklearn", "pandas", "scipy"]
FAMILIES = ["mlp", "cnn", "lstm", "gru", "tcn", "transformer"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        capture_output=True,
        text=True,
        cwd=str(cwd),
        env={"PATH": "/usr/bin:/bin", "CI": "true", "PYTHONPATH": ""},
        timeout=120,
    )


def _audit_json(path: Path, *flags: str) -> tuple[int, dict[str, object]]:
    proc = _cli("audit", str(path), "--json", *flags, cwd=path.parent)
    assert proc.returncode in (0, EXIT_AUDIT_FINDINGS), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest


def _listing(root: Path) -> list[tuple[str, bytes]]:
    return sorted(
        (str(p.relative_to(root)), p.read_bytes()) for p in root.rglob("*") if p.is_file()
    )


def test_every_rule_has_a_planted_fixture() -> None:
    assert len(RULE_IDS) == len(set(RULE_IDS))
    for rule in RULES:
        assert (FIXTURES / rule.id).is_dir(), f"no fixture for rule {rule.id}"
        assert rule.severity in ("high", "medium", "low")
        assert rule.title and rule.why and rule.fix


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_planted_defect_is_found_and_nothing_else(rule_id: str, tmp_path: Path) -> None:
    project = _copy(rule_id, tmp_path)
    before = _listing(project)
    code, report = _audit_json(project, "--fail-on", "low")
    findings = report["findings"]
    assert isinstance(findings, list) and findings, f"{rule_id}: nothing found"
    assert {f["rule"] for f in findings} == {rule_id}, findings
    assert code == EXIT_AUDIT_FINDINGS
    for finding in findings:
        assert "# planted" in finding["evidence"], finding  # the flagged line is the planted one
        file, line = finding["location"].rsplit(":", 1)
        assert (project / file).is_file() and int(line) == finding["line"] >= 1
        assert finding["why"] and finding["fix"] and finding["issue"]
    summary = report["summary"]
    assert isinstance(summary, dict) and summary["failed"] is True
    assert summary["exit_code"] == EXIT_AUDIT_FINDINGS
    # static: the audited code was not run (no file written, nothing changed)
    assert _listing(project) == before


@pytest.mark.parametrize("name", ["clean_pytorch", "clean_lightning"])
def test_clean_hand_written_projects_have_no_findings(name: str) -> None:
    code, report = _audit_json(FIXTURES / name, "--fail-on", "low")
    assert report["findings"] == [], report["findings"]
    assert code == 0


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `mlflowctl build --no-train` project per family, from the templates as they are now."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from blueprints import make_blueprint

    root = tmp_path_factory.mktemp("rendered")
    for family in FAMILIES:
        (root / f"{family}.yaml").write_text(make_blueprint(family).to_yaml())
        proc = _cli("build", f"{family}.yaml", "--no-train", "--out", family, cwd=root)
        assert proc.returncode == 0, proc.stderr
    return root


@pytest.mark.parametrize("family", FAMILIES)
def test_rendered_projects_are_clean_for_every_family(rendered: Path, family: str) -> None:
    code, report = _audit_json(rendered / family, "--fail-on", "low")
    assert report["findings"] == [], report["findings"]
    assert code == 0
    assert isinstance(report["summary"], dict) and report["summary"]["files"] >= 4


def test_fail_on_threshold_sets_the_exit_code() -> None:
    medium_only = FIXTURES / "no-seed"  # one medium finding
    code, report = _audit_json(medium_only)
    assert code == 0 and len(report["findings"]) == 1  # reported, but below the default high
    assert _audit_json(medium_only, "--fail-on", "medium")[0] == EXIT_AUDIT_FINDINGS
    low_only = FIXTURES / "batch-metric-average"
    assert _audit_json(low_only, "--fail-on", "medium")[0] == 0
    assert _audit_json(low_only, "--fail-on", "low")[0] == EXIT_AUDIT_FINDINGS
    assert _audit_json(FIXTURES / "torch-load-unsafe")[0] == EXIT_AUDIT_FINDINGS
    assert EXIT_CODES[EXIT_AUDIT_FINDINGS]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert f"| {EXIT_AUDIT_FINDINGS} | `mlflowctl audit`" in readme


def test_terminal_report_uses_the_spec_audit_format() -> None:
    proc = _cli("audit", "test-for-selection", cwd=FIXTURES)
    assert proc.returncode == EXIT_AUDIT_FINDINGS, proc.stderr
    out = proc.stdout
    for heading in ("## Summary", "## Findings", "## Recommendations"):
        assert heading in out
    assert out.index("## Summary") < out.index("## Findings") < out.index("## Recommendations")
    assert "### [CRITICAL] Test data used for early stopping" in out
    for field in ("- **Location**: `train.py:31`", "- **Issue**:", "- **Impact**:"):
        assert field in out
    assert "- **Recommendation**:" in out
    warn = _cli("audit", "no-seed", cwd=FIXTURES)
    assert "### [WARNING] No random seed (`no-seed`)" in warn.stdout


def test_unparsable_file_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "train.py").write_text("def broken(:\n    pass\n")
    (tmp_path / "p" / "bad_bytes.py").write_bytes(b"x = '\xff\xfe'\n")
    code, report = _audit_json(tmp_path / "p")
    assert code == EXIT_AUDIT_FINDINGS
    found = {(f["rule"], f["file"]) for f in report["findings"]}  # type: ignore[index]
    assert found == {("parse-error", "train.py"), ("parse-error", "bad_bytes.py")}


@pytest.mark.parametrize(
    ("make", "flags", "needle"),
    [
        (lambda p: p / "missing", [], "missing: path not found"),
        (lambda p: p, [], "no Python files found"),
        (lambda p: p / "notes.txt", [], "notes.txt: not a Python file"),
        (lambda p: p / "train.py", ["--fail-on", "severe"], "--fail-on: unknown severity"),
    ],
    ids=["missing", "no-py-files", "not-python", "bad-fail-on"],
)
def test_bad_input_exits_2_with_one_error_line(
    tmp_path: Path, make: object, flags: list[str], needle: str
) -> None:
    (tmp_path / "notes.txt").write_text("not code\n")
    if "--fail-on" in flags:
        (tmp_path / "train.py").write_text("print('hi')\n")
    target = make(tmp_path)  # type: ignore[operator]
    proc = _cli("audit", str(target), *flags, cwd=tmp_path)
    assert proc.returncode == EXIT_INVALID_INPUT, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], proc.stderr
    assert "hint:" in proc.stderr and "Traceback" not in proc.stderr
    as_json = _cli("audit", str(target), *flags, "--json", cwd=tmp_path)
    obj = json.loads(as_json.stdout)
    assert as_json.returncode == EXIT_INVALID_INPUT and obj["exit_code"] == EXIT_INVALID_INPUT
    assert obj["error"] == "invalid_input" and obj["hint"]


def test_audit_imports_no_heavy_module(repo_root: Path) -> None:
    script = (
        "import json, sys\n"
        "from mlflowctl.cli.app import main\n"
        f"code = main(['audit', {str(FIXTURES / 'clean_lightning')!r}, '--json'])\n"
        f"heavy = {HEAVY!r}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy})\n"
        "print('HEAVY=' + json.dumps({'code': code, 'loaded': loaded}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=str(repo_root),
        env={"PATH": "/usr/bin:/bin", "CI": "true"},
        timeout=120,
    )
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY="))
    result = json.loads(line.removeprefix("HEAVY="))
    assert result == {"code": 0, "loaded": []}, proc.stderr


def test_spec_audit_mode_is_known_not_ignored(tmp_path: Path) -> None:
    spec = tmp_path / "ml-engineer.md"
    spec.write_text(
        "---\nname: ml-engineer\ndescription: d\ntools:\n"
        "  audit: Read, Grep, Glob, Bash\n  solution: Read, Write, Edit, Grep, Glob, Bash\n"
        "  research: Read, Grep, WebSearch\n  default_mode: solution\n---\nbody\n"
    )
    proc = _cli("agents", "validate", str(spec), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    warnings = json.loads(proc.stdout)["files"][0]["warnings"]
    modes = [w for w in warnings if "map of modes" in w]
    assert modes and "research ignored" in modes[0] and "audit" not in modes[0], warnings
    shipped = (Path(__file__).resolve().parent.parent / "agents" / "ml-engineer.md").read_text()
    assert "mlflowctl audit" in shipped
