"""The agents' task lists and the orchestrator's memory.

``.claude/tasks/<agent>-tasks.md`` is a task list a person can read (In Progress / To Do /
Completed, with dates and metrics), rewritten atomically at every change and parsed back on
resume. ``.claude/memory/history.jsonl`` holds one JSON line per finished pipeline (prompt, data,
approach, family, metrics, outcome); the architect reads it and prefers what worked on the same
data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlflowctl.orchestrate.journal import atomic_write_text

_SECTIONS = ("In Progress", "To Do", "Completed")
_ITEM = re.compile(r"^- \[(?P<mark>[ x])\] (?P<text>.+)$")


def _today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class TaskList:
    """One agent's task list; ``save()`` after changes."""

    path: Path
    agent: str
    in_progress: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, root: Path, agent: str) -> TaskList:
        """The task list of ``agent`` under ``root/.claude/tasks``, read back if it exists."""
        path = root / ".claude" / "tasks" / f"{agent}-tasks.md"
        tasks = cls(path=path, agent=agent)
        if path.exists():
            section: list[str] | None = None
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("## "):
                    title = line[3:].strip()
                    section = {
                        "In Progress": tasks.in_progress,
                        "To Do": tasks.todo,
                        "Completed": tasks.completed,
                    }.get(title)
                    continue
                m = _ITEM.match(line)
                if m and section is not None:
                    section.append(m.group("text"))
        return tasks

    def plan(self, *items: str) -> TaskList:
        """Add items to To Do (once each)."""
        for item in items:
            if item not in self.todo and not self._started(item):
                self.todo.append(item)
        return self

    def _started(self, item: str) -> bool:
        return any(t.startswith(item) for t in self.in_progress + self.completed)

    def begin(self, item: str) -> TaskList:
        if item in self.todo:
            self.todo.remove(item)
        self.in_progress = [t for t in self.in_progress if not t.startswith(item)]
        self.in_progress.append(f"{item} (started {_today()})")
        return self.save()

    def complete(self, item: str, note: str = "") -> TaskList:
        if item in self.todo:
            self.todo.remove(item)
        self.in_progress = [t for t in self.in_progress if not t.startswith(item)]
        suffix = f": {note}" if note else ""
        self.completed.append(f"{item} ({_today()}){suffix}")
        return self.save()

    def fail(self, item: str, reason: str) -> TaskList:
        self.in_progress = [t for t in self.in_progress if not t.startswith(item)]
        self.todo.insert(0, f"{item}: FAILED {_today()}: {reason} (resume with --resume)")
        return self.save()

    def render(self) -> str:
        lines = [f"# {self.agent} tasks", ""]
        for title, items, mark in (
            ("In Progress", self.in_progress, " "),
            ("To Do", self.todo, " "),
            ("Completed", self.completed, "x"),
        ):
            lines.append(f"## {title}")
            lines.extend(f"- [{mark}] {t}" for t in items)
            if not items:
                lines.append("(none)")
            lines.append("")
        return "\n".join(lines)

    def save(self) -> TaskList:
        atomic_write_text(self.path, self.render())
        return self


def history_path(workdir: Path, history_file: str) -> Path:
    return workdir / history_file


def read_history(path: Path, window: int) -> list[dict[str, Any]]:
    """The last ``window`` pipeline records; unreadable lines are skipped, never fatal."""
    if window <= 0 or not path.exists():
        return []
    records: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            records.append(obj)
    return records[-window:]


def append_history(path: Path, record: dict[str, Any]) -> None:
    """Append one line; a single ``write`` of a short line is atomic on POSIX appends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line)
