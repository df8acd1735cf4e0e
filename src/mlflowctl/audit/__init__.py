"""``mlflowctl audit``: the ml-engineer's audit mode, a static review of a training project.

Pure ``ast``: the audited code is never imported or executed, and this package imports none of
torch, lightning, mlflow, sklearn, pandas or scipy. ``rules.RULES`` is the rule table (id,
severity, title, why, fix, check); ``checks`` holds the check functions and their documented
heuristics; ``report`` turns hits into findings and prints them.
"""

from __future__ import annotations

from mlflowctl.audit.report import AuditReport, Finding, audit_path
from mlflowctl.audit.rules import RULES, SEVERITIES

__all__ = ["RULES", "SEVERITIES", "AuditReport", "Finding", "audit_path"]
