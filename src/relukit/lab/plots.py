"""Plots of the lab: the atlas of f and f', and the figures of each experiment.

Every function writes one PNG and returns its path; the Agg backend keeps it headless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .. import catalogue  # noqa: E402

#: Parameter values the atlas draws for parametrised activations (the first is the default).
ATLAS_VARIANTS: dict[str, list[dict]] = {
    "leaky_relu": [{}, {"negative_slope": 0.1}, {"negative_slope": 0.3}],
    "prelu": [{}, {"weight": 0.1}, {"weight": 0.5}],
    "rrelu": [{}, {"training": True, "rng": 0}],
    "elu": [{}, {"alpha": 0.5}, {"alpha": 2.0}],
    "celu": [{}, {"alpha": 0.5}, {"alpha": 2.0}],
    "gelu": [{}, {"approximate": "tanh"}],
    "softplus": [{}, {"beta": 0.5}, {"beta": 3.0}],
    "hardtanh": [{}, {"min_val": -2.0, "max_val": 2.0}],
}

_X = np.linspace(-6.0, 6.0, 1201)


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else repr(v)


def _label(act: catalogue.Activation, params: Mapping) -> str:
    shown = params or {p.name: p.default for p in act.params}
    text = ", ".join(f"{k}={_fmt(v)}" for k, v in shown.items() if k not in ("rng", "axis"))
    return f"{act.name}({text})" if text else act.name


def _draw_activation(ax_f, ax_d, act: catalogue.Activation) -> None:
    variants = ATLAS_VARIANTS.get(act.name, [{}])
    for i, params in enumerate(variants):
        style = {"lw": 2.0 if i == 0 else 1.3, "alpha": 1.0 if i == 0 else 0.8}
        if params.get("training"):
            # random slopes: a scatter shows the band [lower*x, upper*x]
            xs = _X[::6]
            ax_f.scatter(xs, act(xs, **params), s=4, label=_label(act, params), color=f"C{i}")
            ax_d.scatter(xs, act.derivative(xs, **params), s=4, color=f"C{i}")
            continue
        if act.doubles_axis:
            y = act(_X[:, None], axis=1, **params)
            d = act.derivative(_X[:, None], axis=1, **params)
            for half, name in enumerate(("max(0, x)", "max(0, -x)")):
                ax_f.plot(_X, y[:, half], label=name, color=f"C{half}", **style)
                ax_d.plot(_X, d[:, half], color=f"C{half}", **style)
            continue
        ax_f.plot(_X, act(_X, **params), label=_label(act, params), color=f"C{i}", **style)
        ax_d.plot(_X, act.derivative(_X, **params), color=f"C{i}", **style)
    ax_f.set_title(f"{act.title}: f(x) = {act.formula}" if len(act.formula) < 40 else act.title,
                   fontsize=9)
    ax_d.set_title("f'(x)", fontsize=9)
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="0.7", lw=0.6)
        ax.axvline(0, color="0.7", lw=0.6)
        ax.grid(alpha=0.3)
        ax.set_xlim(-6, 6)
    ax_f.legend(fontsize=7, loc="upper left")


def atlas_one(act: catalogue.Activation, out_dir: Path) -> Path:
    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(8, 3.2))
    _draw_activation(ax_f, ax_d, act)
    fig.tight_layout()
    path = Path(out_dir) / f"atlas_{act.name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def atlas_grid(acts: Sequence[catalogue.Activation], out_dir: Path, cols: int = 4) -> Path:
    """All activations in one figure: f solid, f' dashed, one panel each."""
    rows = -(-len(acts) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, act in zip(axes.flat, acts, strict=False):
        if act.doubles_axis:
            y = act(_X[:, None], axis=1)
            d = act.derivative(_X[:, None], axis=1)
            ax.plot(_X, y[:, 0], lw=1.8, label="f (x half)")
            ax.plot(_X, y[:, 1], lw=1.8, label="f (-x half)")
            ax.plot(_X, d[:, 0], "--", lw=1.2, color="C0")
            ax.plot(_X, d[:, 1], "--", lw=1.2, color="C1")
        else:
            ax.plot(_X, act(_X), lw=1.8, label="f")
            ax.plot(_X, act.derivative(_X), "--", lw=1.2, label="f'")
        ax.set_title(act.title, fontsize=10)
        ax.axhline(0, color="0.7", lw=0.6)
        ax.axvline(0, color="0.7", lw=0.6)
        ax.set_ylim(-2.5, 6.5)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(acts):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("relukit atlas: f (solid) and f' (dashed) on [-6, 6]")
    fig.tight_layout()
    path = Path(out_dir) / "atlas.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def atlas(out_dir: str | Path, names: Iterable[str] | None = None, progress=None) -> list[Path]:
    """One PNG per activation plus the grid ``atlas.png``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    acts = [catalogue.get(n) for n in (names if names is not None else catalogue.names())]
    paths = []
    for act in acts:
        paths.append(atlas_one(act, out))
        if progress is not None:
            progress()
    paths.append(atlas_grid(acts, out))
    if progress is not None:
        progress()
    return paths


# ----------------------------------------------------------------------------- experiments


def line_plot(
    path: Path,
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    spread: Mapping[str, Sequence[float]] | None = None,
    logy: bool = False,
    x: Sequence[float] | None = None,
    hline: float | None = None,
) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (name, values) in enumerate(series.items()):
        ys = np.asarray(values, dtype=float)
        xs = np.asarray(x if x is not None else np.arange(1, len(ys) + 1))
        ax.plot(xs, ys, label=name, color=f"C{i % 10}", lw=1.6)
        if spread is not None and name in spread:
            s = np.asarray(spread[name], dtype=float)
            ax.fill_between(xs, ys - s, ys + s, color=f"C{i % 10}", alpha=0.15)
    if hline is not None:
        ax.axhline(hline, color="0.4", ls=":", lw=1)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def panel_plot(
    path: Path,
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
) -> Path:
    """One panel per key of ``panels``, each a set of lines (e.g. dead fraction per layer)."""
    n = len(panels)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False)
    for ax, (name, series) in zip(axes.flat, panels.items(), strict=False):
        for i, (label, ys) in enumerate(series.items()):
            ax.plot(np.arange(1, len(ys) + 1), ys, label=label, color=f"C{i % 10}", lw=1.4)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def bar_plot(
    path: Path,
    groups: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    ylabel: str,
) -> Path:
    """Grouped bars: ``groups[group][series] = value``."""
    group_names = list(groups)
    series_names = list(dict.fromkeys(s for g in groups.values() for s in g))  # first-seen order
    width = 0.8 / max(len(series_names), 1)
    fig, ax = plt.subplots(figsize=(min(12.0, max(6.4, 0.5 * len(group_names) * len(series_names))),
                                    3.8))
    xs = np.arange(len(group_names))
    for i, s in enumerate(series_names):
        vals = [groups[g].get(s, np.nan) for g in group_names]
        ax.bar(xs + i * width - 0.4 + width / 2, vals, width, label=s, color=f"C{i % 10}")
    ax.set_xticks(xs)
    ax.set_xticklabels(group_names, rotation=20, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- lab figures
# Each draws the same series as a PNG (static, printed) and a Plotly spec (hover, zoom,
# click a legend entry to hide/show a series). Lines differ in colour, dash and marker, so a
# series drawn over another stays visible.

_DASHES = ["-", "--", "-.", ":"]
_PLOTLY_DASH = {"-": "solid", "--": "dash", "-.": "dashdot", ":": "dot"}
_MARKERS = ["o", "s", "^", "D", "v", "x", "P", "*"]
_PLOTLY_MARKER = {"o": "circle", "s": "square", "^": "triangle-up", "D": "diamond",
                  "v": "triangle-down", "x": "x", "P": "cross", "*": "star"}

#: A series: x values, y values and optionally the spread (std over seeds) around y.
Series = tuple[Sequence[float], Sequence[float], Sequence[float] | None]


def _style(i: int) -> dict:
    return {"color": f"C{i % 10}", "ls": _DASHES[i % 4], "marker": _MARKERS[i % 8]}


def _hex(i: int) -> str:
    return matplotlib.colors.to_hex(f"C{i % 10}")


def _mpl_series(ax, series: Mapping[str, Series], order: Mapping[str, int]) -> None:
    for name, (x_values, y_values, spread) in series.items():
        i = order[name]
        xs, ys = np.asarray(x_values, float), np.asarray(y_values, float)
        st = _style(i)
        ax.plot(xs, ys, label=name, lw=1.7, markersize=4,
                markevery=max(1, len(xs) // 8), alpha=0.9, **st)
        if spread is not None:
            s = np.asarray(spread, float)
            ax.fill_between(xs, ys - s, ys + s, color=st["color"], alpha=0.12)


def _plotly_series(series: Mapping[str, Series], order: Mapping[str, int], axis: str = "",
                   show_legend: bool = True) -> list[dict]:
    traces = []
    for name, (xs, ys, spread) in series.items():
        i = order[name]
        st = _style(i)
        line = {"color": _hex(i), "dash": _PLOTLY_DASH[st["ls"]], "width": 2}
        t = {"type": "scatter", "mode": "lines+markers", "name": name, "legendgroup": name,
             "x": [float(v) for v in xs], "y": [_num(v) for v in ys], "line": line,
             "marker": {"symbol": _PLOTLY_MARKER[st["marker"]], "size": 5},
             "showlegend": show_legend}
        if spread is not None:
            t["error_y"] = {"type": "data", "array": [_num(v) for v in spread],
                            "visible": True, "thickness": 1, "width": 2, "color": _hex(i)}
        if axis:
            t["xaxis"], t["yaxis"] = f"x{axis}", f"y{axis}"
        traces.append(t)
    return traces


def _num(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def lines_figure(path: Path, series: Mapping[str, Series], *, title: str, xlabel: str,
                 ylabel: str, logy: bool = False, hline: float | None = None,
                 hline_label: str = "", ylim: tuple[float, float] | None = None) -> dict:
    """One panel of lines; writes ``path`` (PNG) and returns the Plotly spec."""
    order = {name: i for i, name in enumerate(series)}
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    _mpl_series(ax, series, order)
    if hline is not None:
        ax.axhline(hline, color="0.3", ls=":", lw=1.2, label=hline_label or None)
    if logy:
        ax.set_yscale("log")
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, ncol=2 if len(series) > 4 else 1, framealpha=0.85)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    layout: dict[str, Any] = {"title": {"text": title}, "xaxis": {"title": {"text": xlabel}},
              "yaxis": {"title": {"text": ylabel}, "type": "log" if logy else "linear"},
              "hovermode": "x unified", "margin": {"t": 50, "l": 60, "r": 10, "b": 50}}
    if ylim:
        layout["yaxis"]["range"] = list(ylim)
    if hline is not None:
        layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": hline,
                             "y1": hline, "line": {"dash": "dot", "color": "#555"}}]
    return {"data": _plotly_series(series, order), "layout": layout}


def panels_figure(path: Path, panels: Mapping[str, Mapping[str, Series]], *, title: str,
                  xlabel: str, ylabel: str, ylim: tuple[float, float] | None = None,
                  cols: int = 2) -> dict:
    """One panel per key of ``panels``, the same series names (and styles) in each."""
    names = list(dict.fromkeys(n for s in panels.values() for n in s))
    order = {name: i for i, name in enumerate(names)}
    n = len(panels)
    cols = min(cols, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.4 * rows), squeeze=False)
    for ax, (ptitle, series) in zip(axes.flat, panels.items(), strict=False):
        _mpl_series(ax, series, order)
        ax.set_title(ptitle, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        if ylim:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.remove()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in list(axes.flat)[1:n]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=9,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.07 + 0.02 * (len(labels) > 5), 1, 0.96))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    traces: list[dict] = []
    layout: dict[str, Any] = {"title": {"text": title}, "hovermode": "closest",
                              "grid": {"rows": rows, "columns": cols, "pattern": "independent"},
                              "annotations": [], "height": 300 * rows + 80,
                              "margin": {"t": 70, "l": 60, "r": 10, "b": 50}}
    seen: set[str] = set()
    for k, (ptitle, series) in enumerate(panels.items(), start=1):
        axis = "" if k == 1 else str(k)
        for t in _plotly_series(series, order, axis):
            t["showlegend"] = t["name"] not in seen
            seen.add(t["name"])
            traces.append(t)
        layout[f"xaxis{axis}"] = {"title": {"text": xlabel}}
        layout[f"yaxis{axis}"] = {"title": {"text": ylabel}}
        if ylim:
            layout[f"yaxis{axis}"]["range"] = list(ylim)
        layout["annotations"].append({"text": ptitle, "showarrow": False, "xref":
                                      f"x{axis} domain", "yref": f"y{axis} domain", "x": 0.5,
                                      "y": 1.12, "font": {"size": 12}})
    return {"data": traces, "layout": layout}


def bars_figure(path: Path, groups: Mapping[str, Mapping[str, tuple[float, float]]], *,
                title: str, ylabel: str, logy: bool = False) -> dict:
    """Grouped bars with error bars: ``groups[group][series] = (value, spread)``."""
    group_names = list(groups)
    names = list(dict.fromkeys(s for g in groups.values() for s in g))
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(group_names) * max(1, len(names)) / 1.5),
                                    4.0))
    xs = np.arange(len(group_names))
    hatches = ["", "//", "..", "xx", "\\\\"]
    for i, s in enumerate(names):
        vals = [groups[g].get(s, (np.nan, 0.0)) for g in group_names]
        ax.bar(xs + i * width - 0.4 + width / 2, [v[0] for v in vals], width,
               yerr=[v[1] for v in vals], label=s, color=f"C{i % 10}", hatch=hatches[i % 5],
               capsize=3, edgecolor="white")
    ax.set_xticks(xs)
    ax.set_xticklabels(group_names, rotation=15, fontsize=9)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=11)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    if len(names) > 1:
        ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    data = [{"type": "bar", "name": s, "x": group_names,
             "y": [_num(groups[g].get(s, (np.nan, 0))[0]) for g in group_names],
             "error_y": {"type": "data", "visible": True,
                         "array": [_num(groups[g].get(s, (np.nan, 0))[1]) for g in group_names]},
             "marker": {"color": _hex(i)}} for i, s in enumerate(names)]
    layout = {"title": {"text": title}, "barmode": "group",
              "yaxis": {"title": {"text": ylabel}, "type": "log" if logy else "linear"},
              "margin": {"t": 50, "l": 60, "r": 10, "b": 70}}
    return {"data": data, "layout": layout}


def layer_name(i: int, n: int) -> str:
    """Layers named by depth: 1 is next to the input, n next to the output."""
    if n <= 1:
        return "layer 1"
    return f"layer {i}" + (" (input side)" if i == 1 else " (output side)" if i == n else "")


def readable_bytes(n: float) -> str:
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"
