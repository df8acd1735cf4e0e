"""The one ``load`` entry point: picks the loader for a source (built-in, NPZ file, table file).

It is the only module that knows every loader, and no loader imports it, so the data modules form
no import cycle: ``loaded`` (the ``LoadedData`` form) <- ``bundled`` / ``files`` <- ``npz`` <- here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlflowctl.data.sources import DataSourceRef, parse_source

if TYPE_CHECKING:
    from mlflowctl.data.loaded import LoadedData


def load(source: str | DataSourceRef, target: str | None = None) -> LoadedData:
    """Load a source into memory; raises ``DataError`` (one line naming the file/flag + a hint)."""
    return load_ref(source, target, require_target=True)


def load_ref(
    source: str | DataSourceRef, target: str | None, *, require_target: bool
) -> LoadedData:
    """``load`` with the profiler's leniency: a table may come without a target to be inspected."""
    ref = parse_source(source) if isinstance(source, str) else source
    if ref.kind == "builtin":
        from mlflowctl.data.bundled import load_builtin

        return load_builtin(ref, target)
    if ref.suffix == ".npz":
        from mlflowctl.data.npz import load_npz_source

        return load_npz_source(ref, target)
    from mlflowctl.data.files import load_file

    return load_file(ref, target, require_target=require_target)
