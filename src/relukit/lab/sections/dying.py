"""Dying ReLU and its fixes, judged where the textbook says it happens: a too-high learning
rate, a negative bias init and a narrow, deep net that is born dead."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import plots
from ..config import LEAKY_SLOPES
from ..models import accuracy, mlp
from ..section import Context, Figure, Section, Table
from ..stats import HIGHER, LOWER, above, compare, last_mean, mean_curve, summarise
from ..training import steps_per_epoch, train_epoch
from ..verdicts import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    TIE,
    Verdict,
    combine,
    not_measured,
)

#: A net "has dying units" when at least this fraction of its hidden units are dead.
DYING_FRACTION = 0.1
#: Test accuracies closer than this (or than 2 standard errors) are a tie: one accuracy on
#: 450 test images carries about +-1.1 points of noise.
ACC_MARGIN = 0.02
#: Dead-unit fractions closer than this are a tie.
DEAD_MARGIN = 0.05

HIGH_LR, NORMAL_LR, NEG_BIAS, NARROW, REVIVE = (
    "high lr", "normal lr", "negative bias", "narrow-deep", "high lr + revive")
#: Regimes every variant runs in; NORMAL_LR and REVIVE run ReLU only.
FIX_REGIMES = (NEG_BIAS, NARROW, HIGH_LR)


@dataclass(frozen=True)
class Variant:
    label: str
    activation: str
    params: tuple = ()


def variants(activations) -> list[Variant]:
    out = []
    for act in activations:
        if act == "leaky_relu":
            out += [Variant(f"leaky_relu({s:g})", act, (("negative_slope", s),))
                    for s in LEAKY_SLOPES]
        else:
            out.append(Variant(act, act))
    return out


@dataclass
class DyingRun:
    seed: int
    test_accuracy: list[float]
    inactive_fraction: list[float]  #: per epoch, over all hidden units (monitor window)
    dead_final: int  #: units dead at the final weights on the training data
    inactive_final: int
    units: int
    born_dead: bool  #: some layer dead on every training input at initialisation
    revived: int = 0


@dataclass
class DyingResult:
    seeds: int
    epochs: int
    settings: dict[str, dict]  # regime -> {lr, bias, width, depth}
    #: regime -> variant label -> runs (one per seed)
    runs: dict[str, dict[str, list[DyingRun]]] = field(default_factory=dict)

    def acc(self, regime: str, label: str):
        return summarise([last_mean(r.test_accuracy) for r in self.runs[regime][label]])

    def dead(self, regime: str, label: str):
        return summarise([r.dead_final / r.units for r in self.runs[regime][label]])

    def inactive(self, regime: str, label: str):
        return summarise([r.inactive_final / r.units for r in self.runs[regime][label]])


def _units(model, x) -> tuple[int, int, int, bool]:
    """Dead and inactive units at the current weights on ``x`` (the diagnostics' rule), the
    number of hidden units, and whether some layer is dead on every row of ``x``."""
    from ...diagnostics import ActivationMonitor

    was = model.training
    model.eval()
    with ActivationMonitor(model, track_gradients=False) as monitor, torch.no_grad():
        model(x)
        layers = monitor.report().layers
    model.train(was)
    dead = sum(len(s.dead_units) for s in layers)
    inactive = sum(len(s.inactive_units if s.inactive_units is not None else s.dead_units)
                   for s in layers)
    units = sum(s.units for s in layers)
    return dead, inactive, units, any(len(s.dead_units) == s.units for s in layers)


def _window_inactive(report) -> float:
    units = sum(s.units for s in report.layers)
    inactive = sum(len(s.inactive_units if s.inactive_units is not None else s.dead_units)
                   for s in report.layers)
    return inactive / units if units else 0.0


class Dying(Section):
    id = "dying"
    title = "Dying ReLU and its fixes"
    shows = ("Hidden units that are <em>inactive</em> — on their flat side for every training "
             "image over an epoch (ReLU: output 0, so dead: no gradient at all; Leaky/PReLU: "
             "negative side, small gradient; ELU: saturated) — and the test accuracy, in "
             "three regimes where the textbook says ReLU units die: Adam at a too-high "
             "learning rate, every hidden bias started at a negative value, and a narrow, deep "
             "net (most such ReLU nets are born dead). Leaky ReLU runs at slope 0.01 "
             "(torch's default) and 0.1.")
    look_for = ("In each panel, does ReLU's line sit high (many inactive units) while the "
                "fixes stay low, and do the fixes reach a higher accuracy? A fix only helps "
                "where ReLU actually dies: compare the regimes. Accuracy is the mean of the "
                "last 3 epochs, so one lucky or unlucky epoch cannot decide a verdict.")

    def enabled(self, cfg) -> bool:
        return "relu" in cfg.activations and "relu" in cfg.dying_activations

    def _plan(self, cfg) -> list[tuple[str, Variant]]:
        vs = variants([a for a in cfg.dying_activations if a in cfg.activations])
        relu = [v for v in vs if v.activation == "relu"]
        plan = [(regime, v) for regime in FIX_REGIMES for v in vs]
        return plan + [(NORMAL_LR, v) for v in relu] + [(REVIVE, v) for v in relu]

    def steps(self, cfg) -> int:
        return len(self._plan(cfg)) * cfg.seeds

    def run(self, ctx: Context, advance) -> DyingResult:
        cfg = ctx.cfg
        settings = {
            HIGH_LR: {"lr": cfg.high_lr, "bias": 0.0, "width": cfg.width,
                      "depth": cfg.dying_depth},
            NORMAL_LR: {"lr": cfg.normal_lr, "bias": 0.0, "width": cfg.width,
                        "depth": cfg.dying_depth},
            NEG_BIAS: {"lr": cfg.normal_lr, "bias": cfg.negative_bias, "width": cfg.width,
                       "depth": cfg.dying_depth},
            NARROW: {"lr": cfg.normal_lr, "bias": 0.0, "width": cfg.narrow_width,
                     "depth": cfg.narrow_depth},
        }
        settings[REVIVE] = dict(settings[HIGH_LR])
        res = DyingResult(cfg.seeds, cfg.dying_epochs, settings)
        for regime, v in self._plan(cfg):
            res.runs.setdefault(regime, {})[v.label] = []
            for seed in range(cfg.seeds):
                res.runs[regime][v.label].append(self._one(ctx, regime, settings[regime], v,
                                                           seed))
                advance()
        return res

    def _one(self, ctx: Context, regime: str, s: dict, v: Variant, seed: int) -> DyingRun:
        from ...diagnostics import ActivationMonitor, revive

        cfg, data = ctx.cfg, ctx.data
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = mlp(v.activation, in_features=data.features, width=s["width"], depth=s["depth"],
                    classes=data.classes, bias=s["bias"], lean=False,
                    params=dict(v.params)).to(ctx.device)
        born_dead = _units(model, data.x_train)[3]
        opt = torch.optim.Adam(model.parameters(), lr=s["lr"])
        accs, inactive, revived = [], [], 0
        reviving = regime == REVIVE
        with ActivationMonitor(model, optimizer=opt if reviving else None,
                               window=steps_per_epoch(data, cfg.batch_size),
                               track_gradients=False) as monitor:
            for epoch in range(cfg.dying_epochs):
                train_epoch(model, opt, data, cfg.batch_size, gen, after_step=monitor.step)
                with monitor.paused():  # test data must not make a unit look alive
                    accs.append(accuracy(model, data.x_test, data.y_test))
                report = monitor.history[-1]
                inactive.append(_window_inactive(report))
                if reviving and epoch < cfg.dying_epochs - 1 and report.dead_units:
                    # re-checked on the training data at the current weights
                    summary = revive(model, report, optimizer=opt, monitor=monitor,
                                     check_inputs=data.x_train)
                    revived += summary.total
        dead, inact, units, _ = _units(model, data.x_train)
        return DyingRun(seed, accs, inactive, dead, inact, units, born_dead, revived)

    # --------------------------------------------------------------------- outputs

    def csv(self, r: DyingResult) -> Table:
        rows = []
        for regime, by in r.runs.items():
            s = r.settings[regime]
            for label, runs in by.items():
                for run in runs:
                    rows.append([regime, label, s["lr"], s["bias"], s["width"], s["depth"],
                                 run.seed, last_mean(run.test_accuracy), run.dead_final,
                                 run.inactive_final, run.units, run.born_dead, run.revived])
        return Table(["regime", "activation", "lr", "bias init", "width", "depth", "seed",
                      "test accuracy (last 3 epochs)", "dead units at final weights",
                      "inactive units at final weights", "hidden units", "born dead",
                      "units revived"], rows)

    def _panel(self, r: DyingResult, regime: str, metric: str) -> dict:
        out = {}
        for label, runs in r.runs[regime].items():
            mean, std = mean_curve([getattr(x, metric) for x in runs])
            out[label] = (list(range(1, len(mean) + 1)), mean, std)
        return out

    def _describe(self, r: DyingResult, regime: str) -> str:
        s = r.settings[regime]
        text = f"{regime}: Adam lr {s['lr']:g}, {s['depth']}x{s['width']}"
        return text + (f", bias {s['bias']:g}" if s["bias"] else "")

    def figures(self, r: DyingResult, out: Path) -> list[Figure]:
        figs = []
        for metric, fid, ylabel, ylim, name in (
                ("inactive_fraction", "fig-dying-inactive", "inactive hidden units (fraction)",
                 (-0.03, 1.03), "Inactive units over training"),
                ("test_accuracy", "fig-dying-accuracy", "test accuracy", (0.0, 1.0),
                 "Test accuracy over training")):
            panels = {self._describe(r, g): self._panel(r, g, metric)
                      for g in FIX_REGIMES if g in r.runs}
            relu = {}
            for g in (NORMAL_LR, HIGH_LR, REVIVE):
                if g in r.runs and "relu" in r.runs[g]:
                    relu[f"relu, {g}"] = self._panel(r, g, metric)["relu"]
            if relu:
                panels[f"ReLU: lr {r.settings[NORMAL_LR]['lr']:g} vs "
                       f"{r.settings[HIGH_LR]['lr']:g}, and revive()"] = relu
            path = out / f"{fid[4:].replace('-', '_')}.png"
            spec = plots.panels_figure(path, panels, title=f"{name} (mean ± std of {r.seeds} "
                                       "seeds)", xlabel="epoch", ylabel=ylabel, ylim=ylim)
            figs.append(Figure(fid, path, name + ".", spec))
        return figs

    def tables(self, r: DyingResult) -> list[Table]:
        rows = []
        for regime, by in r.runs.items():
            for label in by:
                runs = by[label]
                rows.append([regime, label, r.acc(regime, label).text(".3f"),
                             f"{r.dead(regime, label).mean:.1%}",
                             f"{r.inactive(regime, label).mean:.1%}",
                             f"{sum(x.born_dead for x in runs)}/{len(runs)}",
                             f"{sum(x.revived for x in runs) / len(runs):.0f}"
                             if regime == REVIVE else "-"])
        return [Table(["regime", "activation", "test accuracy (last 3 epochs, mean ± std)",
                       "dead units at final weights", "inactive units at final weights",
                       "seeds born dead", "units revived per run"], rows,
                      "Dead: derivative exactly 0 on every training image (relukit."
                      "diagnostics' definition; only ReLU can die here). Inactive: on the "
                      "flat side on every training image.")]

    def verdicts(self, r: DyingResult) -> list[Verdict]:
        return [self._high_lr(r), self._negative_bias(r), self._born_dead(r),
                *[self._fix(r, g) for g in FIX_REGIMES], self._cannot_die(r), self._revive(r)]

    def _high_lr(self, r: DyingResult) -> Verdict:
        claim = "ReLU units die at a too-high learning rate; a lower learning rate avoids it."
        high, normal = r.dead(HIGH_LR, "relu"), r.dead(NORMAL_LR, "relu")
        c = compare(high, normal, DEAD_MARGIN)
        status = (SUPPORTED if c.outcome == HIGHER and high.mean >= DYING_FRACTION
                  else TIE if c.outcome not in (HIGHER, LOWER) else NOT_SUPPORTED)
        return Verdict(
            "dying_high_lr", claim, status,
            f"Dead hidden units at the final weights: {high.mean:.1%} "
            f"± {high.std:.1%} with Adam lr {r.settings[HIGH_LR]['lr']:g}, {normal.mean:.1%} ± "
            f"{normal.std:.1%} at lr {r.settings[NORMAL_LR]['lr']:g} ({r.seeds} seeds; "
            f"difference {c.difference:+.1%}, margin {c.margin:.1%}).", r.seeds,
            {"high_lr": high.to_dict(), "normal_lr": normal.to_dict(),
             "comparison": c.to_dict()}, "fig-dying-inactive")

    def _negative_bias(self, r: DyingResult) -> Verdict:
        claim = "A large negative bias init kills ReLU units."
        dead, acc = r.dead(NEG_BIAS, "relu"), r.acc(NEG_BIAS, "relu")
        outcome = above(dead, DYING_FRACTION)
        status = {HIGHER: SUPPORTED, LOWER: NOT_SUPPORTED}.get(outcome, INCONCLUSIVE)
        return Verdict(
            "dying_negative_bias", claim, status,
            f"With every hidden bias started at {r.settings[NEG_BIAS]['bias']:g}, "
            f"{dead.mean:.1%} ± {dead.std:.1%} of ReLU's hidden units are dead at the end and "
            f"its test accuracy is {acc.text('.3f')} ({r.seeds} seeds; dying means at least "
            f"{DYING_FRACTION:.0%}).", r.seeds,
            {"dead_fraction": dead.to_dict(), "accuracy": acc.to_dict()}, "fig-dying-inactive")

    def _born_dead(self, r: DyingResult) -> Verdict:
        s = r.settings[NARROW]
        claim = (f"A narrow, deep ReLU net ({s['depth']} layers of {s['width']}) is usually "
                 "born dead: some layer is 0 on every input at initialisation.")
        runs = r.runs[NARROW]["relu"]
        k = sum(x.born_dead for x in runs)
        acc = r.acc(NARROW, "relu")
        status = SUPPORTED if 2 * k > len(runs) else NOT_SUPPORTED
        return Verdict(
            "born_dead_narrow", claim, status,
            f"{k} of {len(runs)} seeds are born dead on the digits training set; ReLU's test "
            f"accuracy after {r.epochs} epochs is {acc.text('.3f')}. (The probability itself "
            f"is measured with many draws under Published results.)", r.seeds,
            {"born_dead": k, "seeds": len(runs), "accuracy": acc.to_dict()},
            "fig-dying-accuracy")

    def _fix(self, r: DyingResult, regime: str) -> Verdict:
        vid = "fix_" + regime.replace(" ", "_").replace("-", "_")
        claim = f"Leaky ReLU, PReLU and ELU keep training where ReLU dies ({regime})."
        fixes = [label for label in r.runs[regime] if label != "relu"]
        if not fixes:
            return not_measured(vid, claim, "Needs leaky_relu, prelu or elu in --activations.",
                                "fig-dying-accuracy")
        relu = r.acc(regime, "relu")
        relu_dead = r.dead(regime, "relu")
        outcomes, parts, numbers = [], [], {"relu": relu.to_dict(),
                                            "relu_dead": relu_dead.to_dict()}
        for label in fixes:
            a = r.acc(regime, label)
            c = compare(a, relu, ACC_MARGIN)
            outcomes.append(True if c.outcome == HIGHER else None if c.outcome != LOWER
                            else False)
            word = {HIGHER: "better", LOWER: "worse"}.get(c.outcome, "tie")
            parts.append(f"{label} {a.text('.3f')} ({word})")
            numbers[label] = {"accuracy": a.to_dict(), "comparison": c.to_dict()}
        status = combine(outcomes)
        where = ""
        if relu_dead.mean < DYING_FRACTION:
            where = (f" ReLU itself has only {relu_dead.mean:.1%} dead units here, so this "
                     "regime does not test the fix.")
        return Verdict(
            vid, claim, status,
            f"{self._describe(r, regime)}, test accuracy (last 3 epochs, {r.seeds} seeds): "
            f"ReLU {relu.text('.3f')} with {relu_dead.mean:.1%} dead units; "
            + ", ".join(parts) + f" (margin: max(2 standard errors, {ACC_MARGIN})).{where}",
            r.seeds, numbers, "fig-dying-accuracy")

    def _cannot_die(self, r: DyingResult) -> Verdict:
        claim = "Leaky ReLU, PReLU and ELU units cannot die (their derivative is never 0)."
        fixes = {(g, label) for g in FIX_REGIMES for label in r.runs.get(g, {})
                 if label != "relu"}
        if not fixes:
            return not_measured("fixes_cannot_die", claim, "Needs leaky_relu, prelu or elu.",
                                "fig-dying-inactive")
        dead = sum(x.dead_final for g, lab in fixes for x in r.runs[g][lab])
        worst = max(fixes, key=lambda gl: r.inactive(*gl).mean)
        status = SUPPORTED if dead == 0 else NOT_SUPPORTED
        return Verdict(
            "fixes_cannot_die", claim, status,
            f"{dead} dead units in all their runs; but units can still be inactive "
            f"(always on the flat side, where the gradient is small): up to "
            f"{r.inactive(*worst).mean:.1%} for {worst[1]} ({worst[0]}).", r.seeds,
            {"dead_units": dead, "most_inactive": {"regime": worst[0], "activation": worst[1],
                                                   "fraction": r.inactive(*worst).to_dict()}},
            "fig-dying-inactive")

    def _revive(self, r: DyingResult) -> Verdict:
        claim = ("revive() helps: re-initialising dead units leaves fewer dead units at the "
                 "final weights without lowering accuracy.")
        runs = r.runs.get(REVIVE, {}).get("relu", [])
        if not runs or not sum(x.revived for x in runs):
            return not_measured("revive", claim, "No unit died, so none was revived.",
                                "fig-dying-inactive")
        dead_c = compare(r.dead(REVIVE, "relu"), r.dead(HIGH_LR, "relu"), DEAD_MARGIN)
        acc_c = compare(r.acc(REVIVE, "relu"), r.acc(HIGH_LR, "relu"), ACC_MARGIN)
        status = (SUPPORTED if dead_c.outcome == LOWER and acc_c.outcome != LOWER
                  else NOT_SUPPORTED)
        return Verdict(
            "revive", claim, status,
            f"ReLU at lr {r.settings[HIGH_LR]['lr']:g}, revive() after each epoch but the "
            f"last ({sum(x.revived for x in runs) / len(runs):.0f} re-initialisations per run): "
            f"{r.dead(REVIVE, 'relu').mean:.1%} dead units at the final weights vs "
            f"{r.dead(HIGH_LR, 'relu').mean:.1%} without ({dead_c.outcome}); test accuracy "
            f"{r.acc(REVIVE, 'relu').text('.3f')} vs {r.acc(HIGH_LR, 'relu').text('.3f')} "
            f"({'not lower' if acc_c.outcome != LOWER else 'lower'}, margin "
            f"{acc_c.margin:.3f}; {r.seeds} seeds).", r.seeds,
            {"dead": dead_c.to_dict(), "accuracy": acc_c.to_dict(),
             "dead_revive": r.dead(REVIVE, "relu").to_dict(),
             "dead_plain": r.dead(HIGH_LR, "relu").to_dict(),
             "accuracy_revive": r.acc(REVIVE, "relu").to_dict(),
             "accuracy_plain": r.acc(HIGH_LR, "relu").to_dict()}, "fig-dying-inactive")
