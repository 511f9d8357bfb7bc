"""Cheap to compute: time per element of every activation in torch relative to ReLU, and the
share of a whole training step the activation takes (the lab's MLP, a tiny transformer block)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import plots
from ..models import activation_module, lab_activations, mlp
from ..section import Context, Figure, Section, Table
from ..stats import HIGHER, LOWER, compare, summarise
from ..verdicts import NOT_SUPPORTED, SUPPORTED, Verdict, combine

#: Relative timings closer to each other than this are a tie (timing noise on a shared CPU).
RATIO_MARGIN = 0.10
#: Training-step time differences below this fraction are a tie.
STEP_MARGIN = 0.05
#: Activations the training steps are timed with (and none: nn.Identity).
STEP_ACTIVATIONS = ("relu", "gelu", "elu", "tanh")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device: torch.device, inner: int) -> float:
    _sync(device)
    t = time.perf_counter()
    for _ in range(inner):
        fn()
    _sync(device)
    return (time.perf_counter() - t) / inner


class TinyBlock(nn.Module):
    """A pre-norm transformer block: self-attention and an MLP of 4x width with ``act``."""

    def __init__(self, act: nn.Module, d: int = 64, heads: int = 4, classes: int = 10):
        super().__init__()
        self.embed = nn.Linear(8, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.fc1, self.act, self.fc2 = nn.Linear(d, 4 * d), act, nn.Linear(4 * d, d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):  # x: (N, 64) digits, read as 8 tokens of 8 pixels
        h = self.embed(x.view(x.shape[0], 8, 8))
        a = self.norm1(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        h = h + self.fc2(self.act(self.fc1(self.norm2(h))))
        return self.head(h.mean(dim=1))


@dataclass
class ComputeCostResult:
    device: str
    threads: int
    elements: int
    repeats: int
    step_repeats: int
    #: activation -> per repeat, seconds per element: forward, forward + backward
    forward: dict[str, list[float]] = field(default_factory=dict)
    backward: dict[str, list[float]] = field(default_factory=dict)
    #: net -> activation ("none" = nn.Identity) -> per repeat, seconds per training step
    step: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    describe: dict[str, str] = field(default_factory=dict)

    def ratio(self, act: str, which: str = "backward"):
        """Per repeat, the activation's time over ReLU's in the same repeat (interleaved)."""
        t = self.backward if which == "backward" else self.forward
        return summarise([a / b for a, b in zip(t[act], t["relu"], strict=True)])

    def share(self, net: str, act: str):
        """Per repeat, the fraction of the step the activation takes: 1 - identity / act."""
        s = self.step[net]
        return summarise([1.0 - n / a for n, a in zip(s["none"], s[act], strict=True)])

    def step_ratio(self, net: str, act: str):
        s = self.step[net]
        return summarise([a / b for a, b in zip(s[act], s["relu"], strict=True)])


class ComputeCost(Section):
    id = "compute_cost"
    title = "Cheap to compute: what an activation costs"
    shows = ("Time per element of each activation in torch on this device (its own kernels, "
             "float32, a 1-D tensor of about a million elements), forward and forward + "
             "backward, relative to ReLU; then the time of a whole training step (forward, "
             "backward, SGD) of the lab's MLP and of a tiny transformer block with each "
             "activation, against the same net with no activation at all. Every number is the "
             "median of interleaved repeats: each repeat times every activation once, so a "
             "slow moment of the machine hits all of them alike.")
    look_for = ("The bars: ReLU at 1 and the piecewise-linear family close to it; the smooth "
                "ones (GELU, ELU, SiLU, Mish...) several times slower per element. Then the "
                "step table: the share of a training step spent in the activation is small, "
                "because the matrix multiplications dominate, so a cheaper activation barely "
                "changes the step time. \"Cheap\" is true; \"so networks train faster\" is "
                "mostly not, on this device.")

    def steps(self, cfg) -> int:
        return 2

    def enabled(self, cfg) -> bool:
        return "relu" in cfg.activations

    def run(self, ctx: Context, advance) -> ComputeCostResult:
        cfg, dev, data = ctx.cfg, ctx.device, ctx.data
        name = (f"{torch.cuda.get_device_name(dev)} (cuda)" if dev.type == "cuda" else "CPU")
        res = ComputeCostResult(name, torch.get_num_threads(),
                                cfg.cost_elements, cfg.cost_repeats, cfg.step_repeats)
        acts = lab_activations()
        mods = {a: activation_module(a, lean=False).to(dev) for a in acts}
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(cfg.cost_elements, generator=gen).to(dev)
        xg = x.clone().requires_grad_(True)
        grad = torch.ones_like(x)
        for a in acts:
            res.forward[a], res.backward[a] = [], []
        with torch.no_grad():
            for m in mods.values():  # warm-up
                m(x)
        for _ in range(cfg.cost_repeats):
            for a in acts:
                m = mods[a]
                with torch.no_grad():
                    res.forward[a].append(_time(lambda m=m: m(x), dev, 3) / x.numel())

                def fb(m=m):
                    xg.grad = None
                    m(xg).backward(grad)

                res.backward[a].append(_time(fb, dev, 3) / x.numel())
        advance()
        xb, yb = data.x_train[: cfg.batch_size], data.y_train[: cfg.batch_size]
        nets = {
            "mlp": (lambda act: mlp(act, in_features=data.features, width=cfg.width,
                                    depth=cfg.depth, classes=data.classes, lean=False),
                    f"the lab's MLP ({cfg.depth} hidden layers of {cfg.width}, batch "
                    f"{cfg.batch_size})"),
            "transformer": (lambda act: TinyBlock(activation_module(act, lean=False)),
                            f"a tiny transformer block (8 tokens, d 64, 4 heads, MLP 256, "
                            f"batch {cfg.batch_size})"),
        }
        for net, (build, words) in nets.items():
            res.describe[net] = words
            models, opts = {}, {}
            for act in ("none", *STEP_ACTIVATIONS):
                torch.manual_seed(0)
                model = build("relu" if act == "none" else act).to(dev)
                if act == "none":  # the same net with every activation replaced by identity
                    for parent in model.modules():
                        for child_name, child in parent.named_children():
                            if type(child) is nn.ReLU:
                                setattr(parent, child_name, nn.Identity())
                models[act] = model
                opts[act] = torch.optim.SGD(model.parameters(), lr=1e-3)
            res.step[net] = {a: [] for a in models}

            def step(model, opt):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(xb), yb).backward()
                opt.step()

            for a in models:
                step(models[a], opts[a])  # warm-up
            for _ in range(cfg.step_repeats):
                for a in models:
                    res.step[net][a].append(_time(
                        lambda m=models[a], o=opts[a]: step(m, o), dev, 5))
        advance()
        return res

    def csv(self, r: ComputeCostResult) -> Table:
        rows = [["per element", a, i, f, b] for a in r.forward
                for i, (f, b) in enumerate(zip(r.forward[a], r.backward[a], strict=True))]
        rows += [[f"training step, {net}", a, i, "", t] for net, by in r.step.items()
                 for a, ts in by.items() for i, t in enumerate(ts)]
        return Table(["measurement", "activation", "repeat", "forward seconds per element",
                      "forward + backward seconds (per element, or per step)"], rows)

    def figures(self, r: ComputeCostResult, out: Path) -> list[Figure]:
        order = sorted(r.forward, key=lambda a: statistics.median(
            [x / y for x, y in zip(r.backward[a], r.backward["relu"], strict=True)]))
        groups = {}
        for a in order:
            f, b = r.ratio(a, "forward"), r.ratio(a, "backward")
            groups[a] = {"forward": (statistics.median(
                [x / y for x, y in zip(r.forward[a], r.forward["relu"], strict=True)]), f.std),
                "forward + backward": (statistics.median(
                    [x / y for x, y in zip(r.backward[a], r.backward["relu"], strict=True)]),
                    b.std)}
        path = out / "compute_cost.png"
        spec = plots.bars_figure(
            path, groups, title=f"Time per element relative to ReLU, torch on {r.device}, "
            f"{r.threads} thread(s), {r.elements:,} float32 (median of {r.repeats} repeats)",
            ylabel="time / ReLU's time")
        return [Figure("fig-compute-cost", path, "Cost of each activation relative to ReLU.",
                       spec)]

    def tables(self, r: ComputeCostResult) -> list[Table]:
        relu_f = statistics.median(r.forward["relu"]) * 1e9
        relu_b = statistics.median(r.backward["relu"]) * 1e9
        out = [Table(["activation", "forward, x ReLU", "forward + backward, x ReLU"],
                     [[a, f"{r.ratio(a, 'forward').mean:.2f}", f"{r.ratio(a).mean:.2f}"]
                      for a in sorted(r.forward, key=lambda a: r.ratio(a).mean)],
                     f"Mean over {r.repeats} interleaved repeats of the ratio to ReLU in the "
                     f"same repeat; ReLU itself: {relu_f:.2f} ns per element forward, "
                     f"{relu_b:.2f} ns forward + backward, on {r.device}.")]
        rows = []
        for net, by in r.step.items():
            for a in by:
                med = statistics.median(by[a]) * 1e3
                share = "-" if a == "none" else f"{r.share(net, a).mean:.1%}"
                rel = f"{r.step_ratio(net, a).mean:.2f}"
                rows.append([r.describe[net], a, f"{med:.3f} ms", rel, share])
        out.append(Table(["net", "activation", "training step (median)", "x ReLU's step",
                          "share of the step in the activation"], rows,
                         "Share = 1 - (step with no activation) / (step with it), per repeat."))
        return out

    def verdicts(self, r: ComputeCostResult) -> list[Verdict]:
        one = summarise([1.0] * r.repeats)
        cheaper, ties, numbers = [], [], {}
        for a in r.backward:
            if a == "relu":
                continue
            s = r.ratio(a)
            c = compare(s, one, RATIO_MARGIN)
            numbers[a] = {"ratio": s.to_dict(), "comparison": c.to_dict()}
            if c.outcome == LOWER:
                cheaper.append(f"{a} {s.mean:.2f}")
            elif c.outcome != HIGHER:
                ties.append(a)
        worst = max(numbers, key=lambda a: numbers[a]["ratio"]["mean"])
        out = [Verdict(
            "relu_cheapest", "ReLU is the cheapest activation to compute.",
            NOT_SUPPORTED if cheaper else SUPPORTED,
            f"Forward + backward per element on {r.device} ({r.repeats} interleaved repeats): "
            + (f"cheaper than ReLU: {', '.join(cheaper)}; " if cheaper else
               "none is cheaper than ReLU; ")
            + f"ties (within {RATIO_MARGIN:.0%}): {', '.join(ties) or 'none'}; "
            f"the costliest, {worst}, takes {numbers[worst]['ratio']['mean']:.1f}x ReLU's time.",
            r.repeats, numbers, "fig-compute-cost")]
        outcomes, parts, numbers2 = [], [], {}
        for net in r.step:
            share = r.share(net, "relu")
            others = [a for a in r.step[net] if a not in ("none", "relu")]
            net_parts = []
            for a in others:
                s = r.step_ratio(net, a)
                c = compare(s, one, STEP_MARGIN)
                outcomes.append(True if c.outcome == HIGHER else False if c.outcome == LOWER
                                else None)
                net_parts.append(f"{a} {s.mean:.2f}x")
                numbers2[f"{net}.{a}"] = {"step_ratio": s.to_dict(), "comparison": c.to_dict()}
            numbers2[f"{net}.relu_share"] = share.to_dict()
            noise = ("" if share.mean - 2 * share.se > 0 else
                     " (not above 0 beyond 2 standard errors: within the timing noise)")
            parts.append(f"{r.describe[net]}: ReLU takes {share.mean:.1%} ± {share.std:.1%} of "
                         f"the step{noise}; steps with " + ", ".join(net_parts)
                         + " ReLU's time")
        out.append(Verdict(
            "cheap_trains_faster",
            "Because ReLU is cheap, networks with it train faster (per step).", combine(outcomes),
            "; ".join(parts) + f" (a step differs when by more than {STEP_MARGIN:.0%} and 2 "
            f"standard errors; {r.step_repeats} repeats of 5 steps, on {r.device}).",
            r.step_repeats, numbers2, "fig-compute-cost"))
        return out
