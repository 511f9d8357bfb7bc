"""One verdict per textbook claim, computed from the run's own numbers.

Each function reads the ``results`` dict that ``run_lab`` writes to results.json and returns a
``Verdict``; the thresholds are the named constants below, so a reader can see what
"supported" means and a test can move the numbers across them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: The gradient reaching the first layer is "vanished" below this fraction of the last layer's.
VANISHED_RATIO = 1e-2
#: ...and "flows" above this fraction.
FLOWING_RATIO = 1e-1
#: ReLU layers are "sparse" when at least this fraction of their outputs are exact zeros.
SPARSE_FRACTION = 0.3
#: A network "has dying units" when a layer has at least this fraction of dead units.
DYING_FRACTION = 0.1
#: "no dying": below this fraction in every layer.
ALIVE_FRACTION = 0.01

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
    r_relu = _first_last_ratio(flow["grad_norms"]["relu"])
    r_sig = _first_last_ratio(flow["grad_norms"]["sigmoid"])
    ok_relu, bad_sig = r_relu >= FLOWING_RATIO, r_sig < VANISHED_RATIO
    status = SUPPORTED if ok_relu and bad_sig else PARTLY if ok_relu or bad_sig else NOT_SUPPORTED
    sentence = (f"At initialisation of a {flow['depth']}-layer MLP, the first layer's gradient is "
                f"{r_sig:.1e}x the last layer's with sigmoid and {r_relu:.2g}x with ReLU "
                f"(vanished below {VANISHED_RATIO:g}, flowing above {FLOWING_RATIO:g}).")
    return Verdict(claim, status, sentence)


def convergence(results: dict) -> Verdict:
    claim = "ReLU networks train faster than sigmoid and tanh networks."
    conv = results.get("convergence")
    needed = ("relu", "sigmoid", "tanh")
    if not conv or any(a not in conv["summary"] for a in needed):
        return Verdict(claim, NOT_MEASURED, "Needs relu, sigmoid and tanh in --activations.")
    s = conv["summary"]
    e = {a: s[a]["mean_epochs_to_target"] for a in needed}
    faster = [a for a in ("sigmoid", "tanh") if e["relu"] < e[a]]
    status = SUPPORTED if len(faster) == 2 else PARTLY if faster else NOT_SUPPORTED
    epochs = len(s["relu"]["accuracy_mean"])

    def fmt(a):
        return f"{e[a]:.1f}" if e[a] <= epochs else f"not within {epochs}"

    sentence = (f"Epochs to {conv['target_accuracy']:.0%} test accuracy on digits (mean over "
                f"seeds, SGD with momentum): ReLU {fmt('relu')}, sigmoid {fmt('sigmoid')}, "
                f"tanh {fmt('tanh')}; final accuracy ReLU {s['relu']['final_accuracy']:.3f}, "
                f"sigmoid {s['sigmoid']['final_accuracy']:.3f}, "
                f"tanh {s['tanh']['final_accuracy']:.3f}.")
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
    status = (SUPPORTED if dies and normal < high / 2 else PARTLY if dies else NOT_SUPPORTED)
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
    claim = "Leaky ReLU, PReLU and ELU do not die where ReLU does."
    runs = results.get("dying", {}).get("runs", {})
    fixes = [a for a in ("leaky_relu", "prelu", "elu") if a in runs]
    if "relu" not in runs or not fixes:
        return Verdict(claim, NOT_MEASURED, "Needs relu and one of leaky_relu/prelu/elu.")
    relu_dead = _max_dead(runs["relu"]["high lr"])
    dead = {a: _max_dead(runs[a]["high lr"]) for a in fixes}
    acc = {a: runs[a]["high lr"]["test_accuracy"][-1] for a in ["relu", *fixes]}
    alive = all(v < ALIVE_FRACTION for v in dead.values())
    better = [a for a in fixes if acc[a] > acc["relu"]]
    if relu_dead < DYING_FRACTION:
        status = NOT_MEASURED
    else:
        status = SUPPORTED if alive and better else PARTLY if alive else NOT_SUPPORTED
    parts = ", ".join(f"{a} {dead[a]:.1%} dead / accuracy {acc[a]:.3f}" for a in fixes)
    sentence = (f"At lr={results['dying']['high_lr']:g}: ReLU {relu_dead:.1%} dead / accuracy "
                f"{acc['relu']:.3f}; {parts}. Leaky units keep a gradient on the negative side, "
                f"so none is dead by construction; accuracy says whether that helped.")
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
