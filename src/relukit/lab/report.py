"""Writes the lab's report: plots (PNG), index.html (self-contained), results.json, CSVs."""

from __future__ import annotations

import base64
import csv
import html
import json
import math
from pathlib import Path

from . import plots
from .verdicts import Verdict, median_epochs

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
.verdict{padding:.5em .8em;margin:.4em 0;border-left:5px solid #999;background:#fafafa}
.supported{border-color:#2a2}.partly{border-color:#e90}.not{border-color:#c33}
.status{font-weight:bold;text-transform:uppercase;font-size:.8em}
code{background:#f3f3f3;padding:0 .2em}
"""


def _status_class(status: str) -> str:
    return {"supported": "supported", "partly supported": "partly"}.get(status, "not")


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


# ----------------------------------------------------------------------------- tables


def convergence_rows(results: dict) -> list[list]:
    conv = results["convergence"]
    rows = []
    for act, s in conv["summary"].items():
        reached = [e if e is not None else "-" for e in s["epochs_to_target"]]
        rows.append([act, s["final_accuracy"], s["final_accuracy_std"],
                     median_epochs(s["epochs_to_target"]), " ".join(map(str, reached))])
    return rows


CONVERGENCE_HEADER = ["activation", "final test accuracy (mean)", "± std",
                      "median epochs to target", "epochs to target per seed"]


def dying_rows(results: dict) -> list[list]:
    rows = []
    for act, regimes in results["dying"]["runs"].items():
        for regime, run in regimes.items():
            worst = max(run["final_dead_fraction"].values(), default=0.0)
            neg = run.get("negative_fraction") or {}
            negative = sum(neg.values()) / len(neg) if neg else "-"
            rows.append([act, regime, run["lr"], run["bias"], worst, negative,
                         run["test_accuracy"][-1], sum(run.get("revived_units", []))])
    return rows


DYING_HEADER = ["activation", "regime", "lr", "bias init", "worst layer dead fraction",
                "negative-side fraction (leaky types)", "final test accuracy", "units revived"]


def memory_rows(results: dict) -> list[list]:
    rows = []
    for act, m in results["memory"]["models"].items():
        kbit = m.get("relukit_kbit_bytes")
        rows.append([act, m["torch_bytes"], m["relukit_bytes"], m["saving"],
                     kbit if kbit is not None else "-", m["outputs_identical"]])
    return rows


MEMORY_HEADER = ["activation", "torch.nn saved bytes", "relukit saved bytes", "saving",
                 "relukit bits=4 saved bytes", "outputs identical"]


# ----------------------------------------------------------------------------- plots


def make_plots(results: dict, out: Path) -> dict[str, list[Path]]:
    figs: dict[str, list[Path]] = {}
    if "gradient_flow" in results:
        flow = results["gradient_flow"]
        figs["gradient_flow"] = [plots.line_plot(
            out / "gradient_flow.png", flow["grad_norms"], logy=True,
            title=f"Gradient norm per layer at initialisation ({flow['depth']} hidden layers)",
            xlabel="layer (1 = input side)", ylabel="‖∂L/∂W‖")]
    if "convergence" in results:
        conv = results["convergence"]
        s = conv["summary"]
        figs["convergence"] = [
            plots.line_plot(out / "convergence_accuracy.png",
                            {a: v["accuracy_mean"] for a, v in s.items()},
                            spread={a: v["accuracy_std"] for a, v in s.items()},
                            hline=conv["target_accuracy"],
                            title="Test accuracy on digits (mean ± std over seeds)",
                            xlabel="epoch", ylabel="accuracy"),
            plots.line_plot(out / "convergence_loss.png",
                            {a: v["loss_mean"] for a, v in s.items()},
                            spread={a: v["loss_std"] for a, v in s.items()}, logy=True,
                            title="Test loss on digits (mean ± std over seeds)",
                            xlabel="epoch", ylabel="cross-entropy"),
        ]
        figs["sparsity"] = [plots.bar_plot(
            out / "sparsity.png",
            {a: {"init": _mean(v["init"]), "trained": _mean(v["trained"])}
             for a, v in conv["sparsity"].items()},
            title="Fraction of exact zeros in hidden activations (test data)",
            ylabel="sparsity")]
    if "dying" in results:
        runs = results["dying"]["runs"]
        panels = {f"{act}: {regime}": run["dead_fraction"]
                  for act, regimes in runs.items() for regime, run in regimes.items()}
        figs["dying"] = [plots.panel_plot(
            out / "dying.png", panels, ylim=(-0.02, 1.02),
            title="Dead-unit fraction per layer over training (ActivationMonitor)",
            xlabel="epoch", ylabel="dead fraction")]
    if "memory" in results:
        m = results["memory"]["models"]
        figs["memory"] = [plots.bar_plot(
            out / "memory.png",
            {a: {"torch.nn": v["torch_bytes"] / 2**20, "relukit": v["relukit_bytes"] / 2**20,
                 **({"relukit bits=4": v["relukit_kbit_bytes"] / 2**20}
                    if "relukit_kbit_bytes" in v else {})}
             for a, v in m.items()},
            title="Saved-for-backward memory of one training step", ylabel="MiB")]
    return figs


def _mean(d: dict) -> float:
    return sum(d.values()) / len(d) if d else 0.0


# ----------------------------------------------------------------------------- writers


def write_csvs(results: dict, out: Path) -> list[Path]:
    paths = []
    if "convergence" in results:
        rows = [[act, r["seed"], e + 1, r["test_accuracy"][e], r["test_loss"][e],
                 r["train_loss"][e]]
                for act, runs in results["convergence"]["runs"].items() for r in runs
                for e in range(len(r["test_accuracy"]))]
        paths.append(_write_csv(out / "convergence.csv", [
            "activation", "seed", "epoch", "test_accuracy", "test_loss", "train_loss"], rows))
        rows = [[act, when, layer, v]
                for act, d in results["convergence"]["sparsity"].items()
                for when, layers in d.items() for layer, v in layers.items()]
        paths.append(_write_csv(out / "sparsity.csv",
                                ["activation", "when", "layer", "sparsity"], rows))
    if "gradient_flow" in results:
        rows = [[act, i + 1, v] for act, norms in results["gradient_flow"]["grad_norms"].items()
                for i, v in enumerate(norms)]
        paths.append(_write_csv(out / "gradient_flow.csv",
                                ["activation", "layer", "grad_norm"], rows))
    if "dying" in results:
        rows = [[act, regime, layer, e + 1, v]
                for act, regimes in results["dying"]["runs"].items()
                for regime, run in regimes.items()
                for layer, series in run["dead_fraction"].items()
                for e, v in enumerate(series)]
        paths.append(_write_csv(out / "dying.csv",
                                ["activation", "regime", "layer", "epoch", "dead_fraction"], rows))
    if "memory" in results:
        paths.append(_write_csv(out / "memory.csv", MEMORY_HEADER, memory_rows(results)))
    return paths


def write_html(results: dict, verdicts: list[Verdict], figs: dict[str, list[Path]],
               out: Path) -> Path:
    cfg = results["config"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>relukit lab</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>relukit lab: the claims about ReLU, measured</h1>",
             f"<p class='sub'>{'quick' if results['quick'] else 'full'} run, "
             f"{cfg['seeds']} seed(s), device {html.escape(results['device'])}, "
             f"{results['seconds']:.0f} s. Same seed, same numbers.</p>",
             "<h2>Verdicts</h2>"]
    for v in verdicts:
        parts.append(f"<div class='verdict {_status_class(v.status)}'>"
                     f"<span class='status'>{html.escape(v.status)}</span> — "
                     f"<b>{html.escape(v.claim)}</b><br>{html.escape(v.sentence)}</div>")
    if "atlas" in figs:
        parts += ["<h2>1. Atlas: f and f′</h2>", _img(figs["atlas"][-1], "atlas")]
    if "gradient_flow" in figs:
        parts += ["<h2>2. Gradient flow at initialisation</h2>",
                  "<p>One batch of digits through a deep MLP with each activation's usual "
                  "init (Glorot for sigmoid/tanh, LeCun for SELU, He otherwise).</p>",
                  _img(figs["gradient_flow"][0], "gradient flow")]
    if "convergence" in results:
        parts += ["<h2>3. Convergence on digits</h2>",
                  f"<p>MLP {cfg['depth']}×{cfg['width']}, SGD lr={cfg['lr']} momentum "
                  f"{cfg['momentum']}, batch "
                  f"{cfg['batch_size']}, {cfg['epochs']} epochs; target accuracy "
                  f"{cfg['target_accuracy']:.0%}.</p>",
                  _table(CONVERGENCE_HEADER, convergence_rows(results))]
        parts += [_img(p, p.stem) for p in figs.get("convergence", [])]
    if "dying" in results:
        parts += ["<h2>4. Dying ReLU</h2>",
                  f"<p>MLP {cfg['dying_depth']}×{cfg['width']}, Adam at lr={cfg['normal_lr']} "
                  f"and lr={cfg['high_lr']}, and with hidden biases initialised to "
                  f"{cfg['negative_bias']}. A unit is dead when it was never active on any "
                  "training sample of an epoch. Leaky ReLU, PReLU and ELU keep a gradient on the "
                  "negative side, so they cannot have dead units: their panels stay at 0 and the "
                  "table shows how much of their output sits on the negative side instead.</p>",
                  _table(DYING_HEADER, dying_rows(results))]
        parts += [_img(p, p.stem) for p in figs.get("dying", [])]
        causes = [(act, regime, c) for act, regimes in results["dying"]["runs"].items()
                  for regime, run in regimes.items() for c in run["causes"]]
        if causes:
            parts.append("<h3>What the monitor said</h3><ul>" + "".join(
                f"<li><code>{html.escape(a)}, {html.escape(r)}</code>: {html.escape(c)}</li>"
                for a, r, c in causes[:30]) + "</ul>")
    if "sparsity" in figs:
        parts += ["<h2>5. Sparsity</h2>", _img(figs["sparsity"][0], "sparsity")]
    if "memory" in results:
        parts += ["<h2>6. Memory saved for backward</h2>",
                  f"<p>One training step of the convergence MLP at batch "
                  f"{results['memory']['batch']}: torch.nn activations vs "
                  "<code>relukit.torch.convert()</code> (exact), and for activations whose "
                  "backward needs the input, <code>convert(model, bits=4)</code>. Bytes include "
                  "what the Linear layers keep (their inputs), which no activation can "
                  "remove; parameters are not counted. ReLU is the one case where torch keeps "
                  "nothing beyond the output the next Linear keeps anyway, so relukit's 1-bit "
                  "mask costs one bit per element more there (a negative saving).</p>",
                  _table(MEMORY_HEADER, memory_rows(results))]
        parts += [_img(p, p.stem) for p in figs.get("memory", [])]
    elif "memory_error" in results:
        parts += ["<h2>6. Memory saved for backward</h2>",
                  f"<p>Not measured: {html.escape(results['memory_error'])}</p>"]
    parts.append("<p class='sub'>Every number is in results.json and the CSV files beside "
                 "this page.</p></body></html>")
    path = out / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_json(results: dict, verdicts: list[Verdict], out: Path) -> Path:
    path = out / "results.json"
    payload = _finite(dict(results, verdicts=[v.to_dict() for v in verdicts]))
    path.write_text(json.dumps(payload, indent=1, default=str, allow_nan=False),
                    encoding="utf-8")
    return path


def _finite(value):
    """NaN/inf (a diverged run) become null: strict JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
