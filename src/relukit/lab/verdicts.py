"""One verdict per textbook claim, computed from the run's own numbers.

Each function reads the ``results`` dict that ``run_lab`` writes to results.json and returns a
``Verdict``; the thresholds are the named constants below, so a reader can see what
"supported" means and a test can move the numbers across them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

#: ReLU layers are "sparse" when at least this fraction of their outputs are exact zeros.
SPARSE_FRACTION = 0.3
#: A network "has dying units" when a layer has at least this fraction of dead units.
DYING_FRACTION = 0.1

SUPPORTED, PARTLY, NOT_SUPPORTED, NOT_MEASURED = (
    "supported", "partly supported", "not supported", "not measured")


@dataclass(frozen=True)
class Verdict:
    claim: str
    status: str
    sentence: str

    def to_dict(self) -> dict:
        return asdict(self)


def _first_last_ratio(norms: list[float]) -> float:
    return norms[0] / norms[-1] if norms and norms[-1] > 0 else float("nan")


def vanishing(results: dict) -> Verdict:
    claim = "ReLU's gradient does not vanish in deep networks; sigmoid's does."
    flow = results.get("gradient_flow")
    if not flow or "relu" not in flow["grad_norms"] or "sigmoid" not in flow["grad_norms"]:
        return Verdict(claim, NOT_MEASURED, "Needs relu and sigmoid in --activations.")
    # "vanishing" is relukit.diagnostics' rule: below vanishing_ratio of the largest layer's
    n_relu = flow["vanishing_layers"]["relu"]
    n_sig = flow["vanishing_layers"]["sigmoid"]
    ok_relu, bad_sig = n_relu == 0, n_sig > 0
    status = SUPPORTED if ok_relu and bad_sig else PARTLY if ok_relu or bad_sig else NOT_SUPPORTED
    layers = len(flow["grad_norms"]["relu"])
    sentence = (
        f"At initialisation of a {flow['depth']}-layer MLP, {n_sig} of {layers} layers get a "
        f"vanishing gradient (below {flow['vanishing_ratio']:g} of the largest layer's) with "
        f"sigmoid and {n_relu} with ReLU; the first layer's gradient is "
        f"{_first_last_ratio(flow['grad_norms']['sigmoid']):.1e}x the last layer's with sigmoid "
        f"and {_first_last_ratio(flow['grad_norms']['relu']):.2g}x with ReLU.")
    return Verdict(claim, status, sentence)


def median_epochs(reached: list[int | None]) -> float:
    """Median epochs to target over seeds, a seed that never reached it counting as inf."""
    values = sorted(math.inf if e is None else e for e in reached)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def convergence(results: dict) -> Verdict:
    claim = "ReLU networks train faster than sigmoid and tanh networks."
    conv = results.get("convergence")
    needed = ("relu", "sigmoid", "tanh")
    if not conv or any(a not in conv["summary"] for a in needed):
        return Verdict(claim, NOT_MEASURED, "Needs relu, sigmoid and tanh in --activations.")
    s = conv["summary"]
    med = {a: median_epochs(s[a]["epochs_to_target"]) for a in needed}
    if math.isinf(med["relu"]):
        status = NOT_SUPPORTED
    else:
        faster = [a for a in ("sigmoid", "tanh") if med["relu"] < med[a]]
        status = SUPPORTED if len(faster) == 2 else PARTLY if faster else NOT_SUPPORTED

    def fmt(a):
        reached = s[a]["epochs_to_target"]
        hits = sum(e is not None for e in reached)
        text = f"{a} {hits}/{len(reached)} seeds"
        return text + (f" (median {med[a]:g} epochs)" if not math.isinf(med[a]) else "")

    sentence = (f"Reaching {conv['target_accuracy']:.0%} test accuracy on digits within "
                f"{len(s['relu']['accuracy_mean'])} epochs (SGD with momentum): "
                + ", ".join(fmt(a) for a in needed)
                + f"; final accuracy relu {s['relu']['final_accuracy']:.3f}, sigmoid "
                f"{s['sigmoid']['final_accuracy']:.3f}, tanh {s['tanh']['final_accuracy']:.3f}.")
    return Verdict(claim, status, sentence)


def sparsity(results: dict) -> Verdict:
    claim = "ReLU gives sparse activations (exact zeros); sigmoid and tanh do not."
    conv = results.get("convergence")
    if not conv or "relu" not in conv["sparsity"]:
        return Verdict(claim, NOT_MEASURED, "Needs relu in --activations.")

    def mean(act, when):
        layers = conv["sparsity"][act][when]
        return sum(layers.values()) / len(layers) if layers else float("nan")

    relu_trained = mean("relu", "trained")
    others = {a: mean(a, "trained") for a in ("sigmoid", "tanh") if a in conv["sparsity"]}
    ok = relu_trained >= SPARSE_FRACTION and all(v < 0.01 for v in others.values())
    status = SUPPORTED if ok else PARTLY if relu_trained >= SPARSE_FRACTION else NOT_SUPPORTED
    rest = ", ".join(f"{a} {v:.1%}" for a, v in others.items())
    sentence = (f"Mean fraction of exact zeros in the hidden layers on test data: ReLU "
                f"{mean('relu', 'init'):.1%} at init, {relu_trained:.1%} after training"
                + (f"; {rest} after training" if rest else "") + ".")
    return Verdict(claim, status, sentence)


def _max_dead(run: dict) -> float:
    return max(run["final_dead_fraction"].values(), default=0.0)


def dying_high_lr(results: dict) -> Verdict:
    claim = "ReLU units die at a too-high learning rate; a lower learning rate avoids it."
    runs = results.get("dying", {}).get("runs", {})
    if "relu" not in runs:
        return Verdict(claim, NOT_MEASURED, "Needs relu in --activations.")
    normal, high = _max_dead(runs["relu"]["normal lr"]), _max_dead(runs["relu"]["high lr"])
    dies = high >= DYING_FRACTION
    avoided = normal < DYING_FRACTION and normal < high / 2
    status = SUPPORTED if dies and avoided else PARTLY if dies else NOT_SUPPORTED
    d = results["dying"]
    sentence = (f"Worst layer's dead-unit fraction after training with Adam: {high:.1%} at "
                f"lr={d['high_lr']:g}, {normal:.1%} at lr={d['normal_lr']:g} "
                f"(dying means at least {DYING_FRACTION:.0%}).")
    return Verdict(claim, status, sentence)


def dying_negative_bias(results: dict) -> Verdict:
    claim = "A large negative bias kills ReLU units."
    runs = results.get("dying", {}).get("runs", {})
    if "relu" not in runs:
        return Verdict(claim, NOT_MEASURED, "Needs relu in --activations.")
    run = runs["relu"]["negative bias"]
    first = max((v[0] for v in run["dead_fraction"].values() if v), default=0.0)
    last = _max_dead(run)
    status = SUPPORTED if max(first, last) >= DYING_FRACTION else NOT_SUPPORTED
    sentence = (f"With every hidden bias initialised to {results['dying']['negative_bias']:g}, "
                f"the worst layer has {first:.1%} dead units in the first epoch and {last:.1%} "
                f"at the end.")
    return Verdict(claim, status, sentence)


def leaky_fix(results: dict) -> Verdict:
    claim = "Leaky ReLU, PReLU and ELU keep training where ReLU units die."
    runs = results.get("dying", {}).get("runs", {})
    fixes = [a for a in ("leaky_relu", "prelu", "elu") if a in runs]
    if "relu" not in runs or not fixes:
        return Verdict(claim, NOT_MEASURED, "Needs relu and one of leaky_relu/prelu/elu.")
    relu_dead = _max_dead(runs["relu"]["high lr"])
    acc = {a: runs[a]["high lr"]["test_accuracy"][-1] for a in ["relu", *fixes]}
    better = [a for a in fixes if acc[a] > acc["relu"]]
    if relu_dead < DYING_FRACTION:
        status = NOT_MEASURED
    else:
        status = SUPPORTED if len(better) == len(fixes) else PARTLY if better else NOT_SUPPORTED
    parts = ", ".join(f"{a} {acc[a]:.3f}" for a in fixes)
    sentence = (f"At lr={results['dying']['high_lr']:g} ReLU ends with {relu_dead:.1%} dead units "
                f"in its worst layer and test accuracy {acc['relu']:.3f}; {parts}. Their units "
                f"keep a gradient on the negative side, so none can die; the verdict is whether "
                f"they then train better than ReLU.")
    return Verdict(claim, status, sentence)


def revive(results: dict) -> Verdict:
    claim = "Re-initialising dead units (relukit.diagnostics.revive) brings them back."
    runs = results.get("dying", {}).get("runs", {})
    if "relu" not in runs or "high lr + revive" not in runs["relu"]:
        return Verdict(claim, NOT_MEASURED, "Needs relu in --activations.")
    plain = runs["relu"]["high lr"]
    revived = runs["relu"]["high lr + revive"]
    before, after = _max_dead(plain), _max_dead(revived)
    n = sum(revived["revived_units"])
    if n == 0:
        return Verdict(claim, NOT_MEASURED, "No unit died, so none was revived.")
    status = SUPPORTED if after < before else NOT_SUPPORTED
    sentence = (f"Reviving after each epoch ({n} unit re-initialisations in all): worst layer "
                f"{after:.1%} dead at the end vs {before:.1%} without; accuracy "
                f"{revived['test_accuracy'][-1]:.3f} vs {plain['test_accuracy'][-1]:.3f}.")
    return Verdict(claim, status, sentence)


ALL = (vanishing, convergence, sparsity, dying_high_lr, dying_negative_bias, leaky_fix, revive)


def all_verdicts(results: dict) -> list[Verdict]:
    return [fn(results) for fn in ALL]
