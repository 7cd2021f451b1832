"""Report figures as PNG bytes (the only matplotlib importer; Agg canvas, no pyplot state).

Each function takes a tidy frame from `reports.frames` and returns PNG bytes, or None when the
frame holds nothing to draw.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

if TYPE_CHECKING:  # frames come from reports.frames, the only module that imports pandas
    import pandas as pd

WIDTH_IN, HEIGHT_IN, DPI = 9.0, 4.6, 110
COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")


def _figure(ncols: int = 1, height_in: float = HEIGHT_IN) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def latency_cdf(samples: pd.DataFrame, title: str = "Latency CDF") -> bytes | None:
    """Empirical CDF of per-request latency, one line per group (log x when spread is wide)."""
    if samples.empty:
        return None
    figure, (ax,) = _figure()
    for i, (group, frame) in enumerate(samples.groupby("group", sort=True)):
        ordered = np.sort(frame["latency_ms"].to_numpy())
        share = np.arange(1, ordered.size + 1) / ordered.size
        ax.step(ordered, share, where="post", color=COLORS[i % len(COLORS)], label=str(group))
    positive = samples["latency_ms"][samples["latency_ms"] > 0]
    if not positive.empty and positive.max() / positive.min() > 50:
        ax.set_xscale("log")
    ax.set(xlabel="latency (ms)", ylabel="share of requests ≤ x", title=title, ylim=(0, 1.01))
    ax.legend(fontsize="small", loc="lower right")
    return _png(figure)


# How each kind of sweep subject is drawn: the user's targets stand out, the sweep's own client
# (its ceiling against the mock directly) is a grey reference line like the bound.
SWEEP_STYLES: dict[str, dict[str, Any]] = {
    "target": {"linewidth": 2.6, "linestyle": "-", "marker": "o"},
    "gateway": {"linewidth": 1.4, "linestyle": "-", "marker": "."},
    "client": {"linewidth": 1.0, "linestyle": "--", "marker": "."},
    "ceiling": {"linewidth": 1.2, "linestyle": ":", "marker": "", "color": "#6b7280"},
}


def sweep_plot(sweep: pd.DataFrame) -> bytes | None:
    """Successful throughput and median latency against concurrency per subject, beside
    Little's-law bound and the sweep client's own ceiling."""
    if sweep.empty or sweep["concurrency"].isna().all():
        return None
    figure, (left, right) = _figure(ncols=2)
    for i, (subject, frame) in enumerate(sweep.groupby("subject", sort=True)):
        style: dict[str, Any] = {"color": COLORS[i % len(COLORS)]}
        style |= SWEEP_STYLES.get(str(frame["kind"].iloc[0]), {})
        left.plot(frame["concurrency"], frame["ok_rps"], label=subject, **style)
        right.plot(frame["concurrency"], frame["p50_ms"], label=subject, **style)
    bound = sweep.groupby("concurrency")["littles_bound_rps"].max().dropna()
    if not bound.empty:
        left.plot(bound.index, bound.to_numpy(), "k--", label="Little's law: N / L")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrency (in-flight requests)")
    left.set(ylabel="successful requests/s", title="Throughput against concurrency")
    right.set(ylabel="median latency of ok replies (ms)", title="Latency against concurrency")
    left.legend(fontsize="small")
    return _png(figure)


def cache_hit_plot(timeline: pd.DataFrame) -> bytes | None:
    """Token cache hit rate per virtual hour, one line per provider configuration."""
    if timeline.empty:
        return None
    figure, (ax,) = _figure()
    for i, (config, frame) in enumerate(timeline.groupby("configuration", sort=True)):
        ax.plot(
            frame["hour"],
            frame["hit_rate"] * 100,
            "o-",
            ms=3,
            color=COLORS[i % len(COLORS)],
            label=config,
        )
    ax.set(
        xlabel="virtual hour",
        ylabel="hit rate (%)",
        ylim=(-2, 102),
        title="Token cache hit rate over virtual time",
    )
    ax.legend(fontsize="small")
    return _png(figure)


def extraction_plot(extraction: pd.DataFrame) -> bytes | None:
    """Median extraction time per shape (µs, with CI whiskers), one bar per extractor."""
    if extraction.empty:
        return None
    shapes = sorted(extraction["shape"].unique())
    extractors = sorted(extraction["extractor"].unique())
    figure, (ax,) = _figure(height_in=max(3.0, 0.42 * len(shapes) * max(1, len(extractors)) + 1.2))
    height = 0.8 / len(extractors)
    for i, name in enumerate(extractors):
        frame = extraction[extraction["extractor"] == name].set_index("shape").reindex(shapes)
        positions = np.arange(len(shapes)) + i * height
        errors = [frame["median_us"] - frame["ci_low_us"], frame["ci_high_us"] - frame["median_us"]]
        ax.barh(
            positions,
            frame["median_us"],
            height,
            xerr=errors,
            color=COLORS[i % len(COLORS)],
            label=name,
        )
    ax.set_yticks(np.arange(len(shapes)) + 0.4 - height / 2, shapes, fontsize="small")
    ax.invert_yaxis()
    ax.set(xlabel="median time per call (µs)", title="Extraction time per response shape")
    ax.legend(fontsize="small")
    return _png(figure)


def fidelity_plot(fidelity: pd.DataFrame) -> bytes | None:
    """Fidelity failure counts per target and kind (None when there are none to show)."""
    failing = fidelity[fidelity["count"] > 0] if not fidelity.empty else fidelity
    if failing.empty:
        return None
    named = failing.assign(where=failing["scenario"] + ": " + failing["target"])
    table = named.pivot_table(
        index="where", columns="kind", values="count", aggfunc="sum", fill_value=0
    )
    figure, (ax,) = _figure()
    _stacked_bars(ax, table, lambda kind: kind)
    ax.set(ylabel="responses", title="Fidelity failures by kind")
    return _png(figure)


def _stacked_bars(ax: Axes, table: pd.DataFrame, name: Callable[[str], str]) -> None:
    bottom = np.zeros(len(table.index))
    for i, column in enumerate(table.columns):
        heights = table[column].to_numpy(dtype=float)
        ax.bar(
            [str(x) for x in table.index],
            heights,
            bottom=bottom,
            color=COLORS[i % len(COLORS)],
            label=name(str(column)),
        )
        bottom += heights
    ax.legend(fontsize="small")


def profile_plot(profile: pd.DataFrame) -> bytes | None:
    """Top frames by share of samples, one panel per variant."""
    if profile.empty:
        return None
    variants = sorted(profile["variant"].unique())
    rows = int(profile.groupby("variant").size().max())
    figure, axes = _figure(ncols=len(variants), height_in=max(3.0, 0.32 * rows + 1.2))
    for i, (ax, variant) in enumerate(zip(axes, variants, strict=True)):
        frame = profile[profile["variant"] == variant]
        labels = [_short(f) for f in frame["function"]]
        ax.barh(labels, frame["share"] * 100, color=COLORS[i % len(COLORS)])
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize="x-small")
        ax.set(xlabel="share of samples (%)", title=variant)
    return _png(figure)


def _short(function: str, limit: int = 48) -> str:
    return function if len(function) <= limit else "…" + function[-(limit - 1) :]
