"""``monitor --report DIR``: index.html with one matplotlib PNG per feature (linked)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlflowctl.monitor.compare import FeatureDrift, MonitorReport, feature_frame


def _plot(feature: FeatureDrift, ref: dict[str, Any], col: pd.Series, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    if ref["type"] == "numeric" and ref.get("quantiles"):
        q = np.asarray(ref["quantiles"], dtype=np.float64)
        ax.plot(q, np.linspace(0, 1, len(q)), label="reference (training)")
        new = np.sort(pd.to_numeric(col, errors="coerce").dropna().to_numpy(dtype=np.float64))
        if len(new):
            ax.step(new, np.arange(1, len(new) + 1) / len(new), where="post", label="new data")
        ax.set(xlabel=feature.name, ylabel="cumulative share")
    else:
        freqs: dict[str, float] = ref.get("frequencies", {})
        counts = col.dropna().astype(str).value_counts(normalize=True)
        cats = sorted(set(freqs) | set(counts.index))[:30]
        x = np.arange(len(cats))
        ax.bar(x - 0.2, [freqs.get(c, 0.0) for c in cats], 0.4, label="reference")
        ax.bar(x + 0.2, [float(counts.get(c, 0.0)) for c in cats], 0.4, label="new data")
        ax.set_xticks(x, cats, rotation=45, ha="right", fontsize=7)
        ax.set(ylabel="share")
    ax.set_title(f"{feature.name}: psi {feature.psi:.3f}, {feature.test} p {feature.pvalue:.2g}")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def write_html(
    out: Path,
    report: MonitorReport,
    profile: dict[str, Any],
    frame: pd.DataFrame,
    predictions: pd.DataFrame | None,
    header: dict[str, str],
) -> Path:
    """Write ``out/index.html`` and ``out/plots/*.png``; returns the index path."""
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    data = feature_frame(profile, frame)
    rows = []
    entries = list(report.features)
    if report.prediction is not None and predictions is not None:
        entries.append(report.prediction)
    for i, f in enumerate(entries):
        if f.name == "prediction" and predictions is not None:
            ref, col = profile["predictions"], predictions[profile["predictions"]["column"]]
        else:
            ref, col = profile["features"][f.name], data[f.name]
        png = f"{i:02d}.png"
        _plot(f, ref, col, plots / png)
        verdict = "DRIFT" if f.drifted else "ok"
        rows.append(
            f"<tr class='{verdict.lower()}'><td>{html.escape(f.name)}</td><td>{f.type}</td>"
            f"<td>{f.psi:.4f}</td><td>{f.test} {f.statistic:.4g}</td><td>{f.pvalue:.3g}</td>"
            f"<td>{f.missing_ref:.2f} &rarr; {f.missing_new:.2f}</td><td>{verdict}</td>"
            f"<td>{html.escape(f.reason)}</td><td><img src='plots/{png}' width='360'></td></tr>"
        )
    meta = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in header.items())
    perf = report.performance
    perf_html = (
        f"<p>Live {perf['metric']}: {perf['live']:.4g} (validation {perf['validation']}); "
        f"{'DEGRADED: ' + html.escape(perf['reason']) if perf['degraded'] else 'ok'}</p>"
        if perf
        else "<p>No target column in the data: the live metric was not computed.</p>"
    )
    schema = report.schema
    verdict = "drift found" if report.drift_found else "no drift"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>mlflowctl monitor</title>
<style>body{{font-family:sans-serif}} td,th{{border:1px solid #ccc;padding:4px}}
tr.drift{{background:#fdd}} table{{border-collapse:collapse}}</style></head><body>
<h1>Drift report: {verdict}</h1><ul>{meta}</ul>
<p>{report.n_rows} rows; drift = psi &gt; {report.thresholds.psi:g} and test p &lt;
{report.thresholds.pvalue:g}, or missing rate moved by &gt; {report.thresholds.missing_rate:g}.</p>
{perf_html}
<p>Extra columns: {html.escape(", ".join(schema.get("extra_columns", [])) or "none")};
type changes: {html.escape(", ".join(schema.get("type_changes", [])) or "none")}</p>
<table><tr><th>feature</th><th>type</th><th>psi</th><th>test</th><th>p</th><th>missing</th>
<th>verdict</th><th>why</th><th>plot</th></tr>{"".join(rows)}</table></body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
