"""``relukit`` command line: ``list``, ``atlas`` and ``lab``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__, catalogue


def catalogue_rows() -> list[tuple[str, str, str]]:
    rows = []
    for act in catalogue.all_activations():
        defaults = ", ".join(f"{p.name}={p.default!r}" for p in act.params) or "-"
        rows.append((act.name, act.formula, defaults))
    return rows


def catalogue_markdown() -> str:
    """The README's catalogue table, generated so that it cannot drift from the code."""
    lines = ["| name | f(x) | f'(x) | parameters (defaults) | class | backward needs |",
             "|---|---|---|---|---|---|"]
    for act in catalogue.all_activations():
        defaults = ", ".join(f"`{p.name}={p.default!r}`" for p in act.params) or "-"
        kind = act.shape.replace("_", "-")
        if act.shape != "smooth":
            kind += f", kinks at {', '.join(f'{b:g}' for b in act.breakpoints())}"
        cells = (f"`{act.name}`", act.formula, act.derivative_formula, defaults, kind,
                 act.backward_needs.replace("_", " "))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _cmd_list(args: argparse.Namespace) -> int:
    if args.markdown:
        print(catalogue_markdown())
        return 0
    rows = catalogue_rows()
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        width = max(len(r[0]) for r in rows)
        for name, formula, defaults in rows:
            print(f"{name:<{width}}  {formula}  [{defaults}]")
        return 0
    table = Table(title="relukit catalogue")
    table.add_column("name", style="bold")
    table.add_column("formula")
    table.add_column("parameters (defaults)")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    return 0


def _cmd_atlas(args: argparse.Namespace) -> int:
    from .lab.plots import atlas
    from .lab.run import _atomic_dir, check_out, out_lock

    names = _parse_names(args.activations) if args.activations is not None else catalogue.names()
    # the lab's safety: never into a non-empty folder that relukit did not write, never a
    # filesystem root; the folder is replaced only once every plot is written
    out = check_out(args.out)
    with out_lock(out), _atomic_dir(out) as tmp:
        paths = atlas(tmp, names)
    print(f"wrote {len(paths)} plots to {out} (grid: atlas.png)")
    return 0


def _parse_names(text: str) -> list[str]:
    """Comma-separated activation names, each checked against the catalogue."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("--activations: give at least one name; valid: "
                         + ", ".join(catalogue.names()))
    return [catalogue.get(n).name for n in names]


def _cmd_lab(args: argparse.Namespace) -> int:
    from .lab.run import run_lab

    names = _parse_names(args.activations) if args.activations is not None else None
    for flag in ("seeds", "epochs", "depth", "width"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ValueError(f"--{flag}: must be >= 1, got {value}")
    if args.lr is not None and not args.lr > 0:
        raise ValueError(f"--lr: must be > 0, got {args.lr}")
    overrides = {"epochs": args.epochs, "depth": args.depth, "width": args.width,
                 "negative_bias": args.bias_init,
                 "lrs": (args.lr,) if args.lr is not None else None}
    if args.epochs is not None:
        overrides.update(cnn_epochs=args.epochs, dying_epochs=args.epochs)
    report = run_lab(
        out=Path(args.out),
        quick=args.quick,
        activations=names,
        seeds=args.seeds,
        device=args.device,
        **overrides,
    )
    print(f"report: {report.resolve()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relukit", description="The ReLU family: catalogue, atlas and lab."
    )
    parser.add_argument("--version", action="version", version=f"relukit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="table of the catalogue: name, formula, defaults")
    p.add_argument("--markdown", action="store_true", help="print the README's markdown table")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("atlas", help="plot f and f' of every activation")
    p.add_argument("--out", default="atlas", help="output folder (default: atlas)")
    p.add_argument("--activations", default=None, help="comma-separated names (default: all)")
    p.set_defaults(func=_cmd_atlas)

    p = sub.add_parser("lab", help="reproduce the claims about ReLU and write a report")
    p.add_argument("--quick", action="store_true", help="fewer seeds/epochs (< 60 s on 2 cores)")
    p.add_argument("--out", default="lab-report", help="report folder (default: lab-report)")
    p.add_argument("--activations", default=None,
                   help="comma-separated names (default: sigmoid,tanh,relu,leaky_relu,prelu,"
                        "elu,selu,gelu)")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds per configuration, in every experiment (default 5; --quick 3)")
    p.add_argument("--lr", type=float, default=None,
                   help="one SGD learning rate for the convergence nets instead of the grid "
                        "0.01,0.03,0.1 (each activation otherwise gets its best)")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs of every experiment (default: convergence 12, CNN 8, "
                        "dying 8; --quick 6, 5, 4)")
    p.add_argument("--depth", type=int, default=None,
                   help="hidden layers of the convergence and memory MLP (default 8; --quick 6)")
    p.add_argument("--width", type=int, default=None,
                   help="hidden width of the convergence, dying and memory MLPs (default 64)")
    p.add_argument("--bias-init", type=float, default=None,
                   help="hidden bias of the dying experiment's negative-bias regime (default -2)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.set_defaults(func=_cmd_lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"relukit {args.command}: interrupted; nothing was written (a previous report in "
              "--out is untouched)", file=sys.stderr)
        return 130
    except (ValueError, ImportError, RuntimeError, OSError) as err:
        print(f"relukit {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
