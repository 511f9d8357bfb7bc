"""Plots of the lab: the atlas of f and f', and the figures of each experiment.

Every function writes one PNG and returns its path; the Agg backend keeps it headless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

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
