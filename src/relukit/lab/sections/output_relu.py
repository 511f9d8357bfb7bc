"""ReLU on the output layer: a classifier's logits and a regression with negative targets,
against a linear output ("use ReLU in hidden layers only")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import plots
from ..models import accuracy, mlp
from ..section import Context, Figure, Section, Table
from ..stats import HIGHER, LOWER, SE_FACTOR, compare, last_mean, mean_curve, summarise
from ..verdicts import NOT_SUPPORTED, PARTLY, SUPPORTED, TIE, Verdict, combine

ACC_MARGIN = 0.02  #: accuracies closer than this (or 2 standard errors) are a tie
MSE_MARGIN = 0.01  #: regression errors closer than this (or 2 standard errors) are a tie
HEADS = ("linear", "relu")


@dataclass
class ClassifierRun:
    seed: int
    test_accuracy: list[float]
    dead_outputs: int  #: logits that are <= 0 on every test image at the end (f' = 0: no gradient)
    dead_outputs_init: int


@dataclass
class RegressionRun:
    seed: int
    test_mse: float
    negative_mse: float  #: error on the targets below 0
    min_prediction: float
    negative_reached: float  #: fraction of negative targets predicted below 0


@dataclass
class OutputReluResult:
    seeds: int
    width: int
    epochs: int
    steps: int
    classifier: dict[str, list[ClassifierRun]] = field(default_factory=dict)  # head -> runs
    regression: dict[str, list[RegressionRun]] = field(default_factory=dict)
    #: seed 0's fit: x, target, and per head the prediction
    curve: dict[str, list[float]] = field(default_factory=dict)

    def acc(self, head: str):
        return summarise([last_mean(r.test_accuracy) for r in self.classifier[head]])

    def dead(self, head: str):
        return summarise([r.dead_outputs for r in self.classifier[head]])

    def mse(self, head: str):
        return summarise([r.test_mse for r in self.regression[head]])


def _regression_data(seed: int, device) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(1000 + seed)
    x = torch.rand(256, 1, generator=gen) * 4 - 2
    xt = torch.linspace(-2, 2, 201).unsqueeze(1)
    return (x.to(device), torch.sin(2 * x).to(device), xt.to(device),
            torch.sin(2 * xt).to(device))


class OutputRelu(Section):
    id = "output_relu"
    title = "ReLU on the output layer"
    shows = ("The same ReLU networks with a linear output layer (the usual choice) and with a "
             "ReLU after the output layer: a digits classifier (ReLU on its logits, Adam, "
             "cross-entropy) and a 1-D regression of sin(2x) on [-2, 2], half of whose targets "
             "are negative (full-batch Adam, squared error).")
    look_for = ("In the regression plot the ReLU output is flat at 0 wherever the target is "
                "negative: it cannot output a negative number, and where it outputs 0 its "
                "gradient is 0, so it cannot even learn to try. In the classifier a logit that "
                "is negative on every input is a dead output unit: its class can never win "
                "and gets no gradient; whether that happens depends on the seed, so compare the "
                "spread of the lines.")

    def steps(self, cfg) -> int:
        return 2 * len(HEADS) * cfg.seeds

    def enabled(self, cfg) -> bool:
        return "relu" in cfg.activations

    def run(self, ctx: Context, advance) -> OutputReluResult:
        cfg, data = ctx.cfg, ctx.data
        res = OutputReluResult(cfg.seeds, cfg.width, cfg.output_epochs, cfg.regression_steps)
        for head in HEADS:
            runs = []
            for seed in range(cfg.seeds):
                torch.manual_seed(seed)
                model = mlp("relu", in_features=data.features, width=cfg.width, depth=2,
                            classes=data.classes, lean=False)
                if head == "relu":
                    model.add_module("out_relu", nn.ReLU())
                model.to(ctx.device)
                dead0 = self._dead(model, data.x_test)
                opt = torch.optim.Adam(model.parameters(), lr=cfg.normal_lr)
                gen = torch.Generator().manual_seed(seed)
                n, accs = data.x_train.shape[0], []
                for _ in range(cfg.output_epochs):
                    model.train()
                    perm = torch.randperm(n, generator=gen).to(data.x_train.device)
                    for start in range(0, n, cfg.batch_size):
                        idx = perm[start:start + cfg.batch_size]
                        loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        opt.step()
                    accs.append(accuracy(model, data.x_test, data.y_test))
                runs.append(ClassifierRun(seed, accs, self._dead(model, data.x_test), dead0))
                advance()
            res.classifier[head] = runs
        for head in HEADS:
            runs_r = []
            for seed in range(cfg.seeds):
                x, y, xt, yt = _regression_data(seed, ctx.device)
                torch.manual_seed(seed)
                layers: list[nn.Module] = [nn.Linear(1, 32), nn.ReLU(), nn.Linear(32, 32),
                                           nn.ReLU(), nn.Linear(32, 1)]
                if head == "relu":
                    layers.append(nn.ReLU())
                model = nn.Sequential(*layers).to(ctx.device)
                opt = torch.optim.Adam(model.parameters(), lr=3e-3)
                for _ in range(cfg.regression_steps):
                    loss = F.mse_loss(model(x), y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                with torch.no_grad():
                    p = model(xt)
                neg = yt < 0
                runs_r.append(RegressionRun(
                    seed, float(F.mse_loss(p, yt)), float(F.mse_loss(p[neg], yt[neg])),
                    float(p.min()), float((p[neg] < 0).float().mean())))
                if seed == 0:
                    res.curve["x"] = xt.squeeze(1).tolist()
                    res.curve["target"] = yt.squeeze(1).tolist()
                    res.curve[head] = p.squeeze(1).tolist()
                advance()
            res.regression[head] = runs_r
        return res

    @staticmethod
    @torch.no_grad()
    def _dead(model, x) -> int:
        was = model.training
        model.eval()
        z = model(x)
        model.train(was)
        return int((z <= 0).all(dim=0).sum())

    def csv(self, r: OutputReluResult) -> Table:
        rows = []
        for head, runs in r.classifier.items():
            for c in runs:
                rows.append(["classifier", head, c.seed, last_mean(c.test_accuracy),
                             c.dead_outputs, "", "", ""])
        for head, runs_r in r.regression.items():
            for g in runs_r:
                rows.append(["regression", head, g.seed, "", "", g.test_mse, g.min_prediction,
                             g.negative_reached])
        return Table(["task", "output", "seed", "test accuracy (last 3 epochs)",
                      "dead output units", "test MSE", "smallest prediction",
                      "negative targets predicted below 0"], rows)

    def figures(self, r: OutputReluResult, out: Path) -> list[Figure]:
        x = r.curve["x"]
        series: dict[str, plots.Series] = {
            "target sin(2x)": (x, r.curve["target"], None),
            "linear output": (x, r.curve["linear"], None),
            "ReLU output": (x, r.curve["relu"], None)}
        path = out / "output_relu_regression.png"
        spec = plots.lines_figure(path, series, hline=0.0, hline_label="0",
                                  title=f"Regression with negative targets (seed 0, "
                                        f"{r.steps} full-batch Adam steps)",
                                  xlabel="x", ylabel="prediction")
        figs = [Figure("fig-output-relu-regression", path,
                       "A ReLU output cannot go below 0.", spec)]
        acc: dict[str, plots.Series] = {}
        for head, runs in r.classifier.items():
            mean, std = mean_curve([c.test_accuracy for c in runs])
            dead = summarise([c.dead_outputs for c in runs]).mean
            acc[f"{head} output ({dead:.1f} dead output units on average)"] = (
                list(range(1, len(mean) + 1)), mean, std)
        path = out / "output_relu_classifier.png"
        spec = plots.lines_figure(path, acc, ylim=(0.0, 1.0),
                                  title=f"Digits classifier, 2 hidden ReLU layers of {r.width} "
                                        f"(mean ± std of {r.seeds} seeds)",
                                  xlabel="epoch", ylabel="test accuracy")
        figs.append(Figure("fig-output-relu-classifier", path,
                           "A ReLU on the logits against a linear output.", spec))
        return figs

    def tables(self, r: OutputReluResult) -> list[Table]:
        rows = []
        for head in HEADS:
            reg = r.regression[head]
            rows.append([f"{head} output", r.acc(head).text(".3f"), r.dead(head).text(".1f"),
                         r.mse(head).text(".4f"), f"{min(g.min_prediction for g in reg):+.3f}",
                         f"{summarise([g.negative_reached for g in reg]).mean:.0%}"])
        return [Table(["output layer", "classifier test accuracy", "dead output units (of 10)",
                       "regression test MSE", "smallest prediction",
                       "negative targets predicted below 0"], rows)]

    def verdicts(self, r: OutputReluResult) -> list[Verdict]:
        lin, rel = r.mse("linear"), r.mse("relu")
        c = compare(rel, lin, MSE_MARGIN)
        nonneg = all(g.min_prediction >= 0 for g in r.regression["relu"])
        cases = [c.outcome == HIGHER, nonneg]
        status = SUPPORTED if all(cases) else PARTLY if any(cases) else NOT_SUPPORTED
        reached = summarise([g.negative_reached for g in r.regression["relu"]]).mean
        out = [Verdict(
            "output_relu_regression",
            "A ReLU output layer cannot reach negative targets; a linear one can.", status,
            f"sin(2x) regression ({r.seeds} seeds): test MSE {rel.text('.4f')} with a ReLU "
            f"output vs {lin.text('.4f')} linear (difference {c.difference:+.4f}, margin "
            f"{c.margin:.4f}); smallest ReLU prediction "
            f"{min(g.min_prediction for g in r.regression['relu']):+.3f}, {reached:.0%} of "
            f"the negative targets predicted below 0.", r.seeds,
            {"mse": {"relu": rel.to_dict(), "linear": lin.to_dict()}, "comparison": c.to_dict(),
             "relu_never_negative": nonneg}, "fig-output-relu-regression")]
        a_lin, a_rel = r.acc("linear"), r.acc("relu")
        ca = compare(a_rel, a_lin, ACC_MARGIN)
        dead = r.dead("relu")
        dead_lin = r.dead("linear")
        acc_case = True if ca.outcome == LOWER else None if ca.outcome != HIGHER else False
        # some output unit dead beyond the standard error; dead in some seeds only: a tie
        dead_case = (True if dead.mean - SE_FACTOR * dead.se > 0 else
                     None if dead.mean > 0 else False)
        status = combine([acc_case, dead_case])
        if status == TIE and dead.mean == 0:
            status = NOT_SUPPORTED
        word = {LOWER: "lower", HIGHER: "higher"}.get(ca.outcome, "a tie")
        out.append(Verdict(
            "output_relu_classifier",
            "A ReLU on a classifier's logits hurts: output units die and accuracy drops.", status,
            f"Digits, {r.epochs} epochs ({r.seeds} seeds): test accuracy {a_rel.text('.3f')} "
            f"with ReLU logits vs {a_lin.text('.3f')} linear ({word}; difference "
            f"{ca.difference:+.3f}, margin {ca.margin:.3f}); dead output units at the end "
            f"{dead.text('.1f')} of 10 (in {sum(x.dead_outputs > 0 for x in r.classifier['relu'])}"
            f"/{dead.n} seeds) vs {dead_lin.text('.1f')} linear.", r.seeds,
            {"accuracy": {"relu": a_rel.to_dict(), "linear": a_lin.to_dict()},
             "comparison": ca.to_dict(), "dead_outputs": {"relu": dead.to_dict(),
                                                          "linear": dead_lin.to_dict()}},
            "fig-output-relu-classifier"))
        return out

