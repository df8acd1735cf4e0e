"""Findings and the audit report: JSON for ``--json``, the ml-engineer spec's markdown otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflowctl.audit.project import Project, load_project
from mlflowctl.audit.rules import LABELS, RULES, SEVERITIES, Rule, at_or_above
from mlflowctl.errors import EXIT_AUDIT_FINDINGS, EXIT_OK


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    title: str
    file: str
    line: int
    evidence: str
    issue: str
    why: str
    fix: str

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "label": LABELS[self.severity],
            "title": self.title,
            "location": self.location,
            "file": self.file,
            "line": self.line,
            "evidence": self.evidence,
            "issue": self.issue,
            "why": self.why,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class AuditReport:
    path: str
    files: int
    findings: list[Finding]
    fail_on: str

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    @property
    def failed(self) -> bool:
        return any(at_or_above(f.severity, self.fail_on) for f in self.findings)

    @property
    def exit_code(self) -> int:
        return EXIT_AUDIT_FINDINGS if self.failed else EXIT_OK

    def summary(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "files": self.files,
            "rules": len(RULES),
            "counts": self.counts,
            "fail_on": self.fail_on,
            "failed": self.failed,
            "exit_code": self.exit_code,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"findings": [f.to_dict() for f in self.findings], "summary": self.summary()}

    def markdown(self) -> str:
        """The audit-mode format of the ml-engineer spec: Summary, Findings, Recommendations."""
        counts = self.counts
        verdict = (
            f"fails `--fail-on {self.fail_on}` (exit {EXIT_AUDIT_FINDINGS})"
            if self.failed
            else f"passes `--fail-on {self.fail_on}`"
        )
        lines = [
            f"# Audit of {self.path}",
            "",
            "## Summary",
            "",
            f"Reviewed {self.files} Python file(s) statically against {len(RULES)} rules: "
            f"{counts['high']} critical, {counts['medium']} warning(s), {counts['low']} note(s); "
            f"the project {verdict}.",
            "",
            "## Findings",
            "",
        ]
        if not self.findings:
            lines += ["No findings.", ""]
        for f in self.findings:
            lines += [
                f"### [{LABELS[f.severity]}] {f.title} (`{f.rule}`)",
                f"- **Location**: `{f.location}`" + (f": `{f.evidence}`" if f.evidence else ""),
                f"- **Issue**: {f.issue}",
                f"- **Impact**: {f.why}",
                f"- **Recommendation**: {f.fix}",
                "",
            ]
        lines += ["## Recommendations", ""]
        if not self.findings:
            lines.append("Nothing to fix; keep auditing after changes (`mlflowctl audit PATH`).")
        by_rule: dict[str, list[Finding]] = {}
        for f in self.findings:
            by_rule.setdefault(f.rule, []).append(f)
        for n, (rule_id, found) in enumerate(by_rule.items(), 1):
            first = found[0]
            where = ", ".join(f.location for f in found[:3]) + (" ..." if len(found) > 3 else "")
            gate = " (blocks the gate)" if at_or_above(first.severity, self.fail_on) else ""
            lines.append(
                f"{n}. [{LABELS[first.severity]}] `{rule_id}`{gate} at {where}: {first.fix}"
            )
        return "\n".join(lines) + "\n"


def _findings(project: Project, rule: Rule) -> list[Finding]:
    by_file = {src.rel: src for src in project.files}
    out = []
    seen: set[tuple[str, int, str]] = set()
    for hit in rule.check(project):
        key = (hit.file, hit.line, hit.message)
        if key in seen:
            continue
        seen.add(key)
        src = by_file.get(hit.file)
        evidence = src.line(hit.line) if src is not None else ""
        out.append(
            Finding(
                rule.id,
                rule.severity,
                rule.title,
                hit.file,
                hit.line,
                evidence[:200],
                hit.message,
                rule.why,
                rule.fix,
            )
        )
    return out


def audit_path(path: Path, *, fail_on: str = "high") -> AuditReport:
    """Audit the project at ``path`` (a folder or one .py file); InvalidInputError if it is none."""
    project = load_project(path)
    findings = [f for rule in RULES for f in _findings(project, rule)]
    findings.sort(key=lambda f: (SEVERITIES.index(f.severity), f.file, f.line, f.rule))
    return AuditReport(str(path), len(project.files), findings, fail_on)
