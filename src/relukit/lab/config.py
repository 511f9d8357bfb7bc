"""The lab's settings: one frozen dataclass, a full and a ``--quick`` preset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "gelu")
#: The dying experiments compare ReLU with the variants said to fix it (Leaky at two slopes).
DYING_ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu")
#: Leaky ReLU's negative slopes in the dying experiments: torch's default and a larger one.
LEAKY_SLOPES = (0.01, 0.1)
#: The convergence claim is about these three; the CNN trains only them.
CNN_ACTIVATIONS = ("sigmoid", "tanh", "relu")


@dataclass(frozen=True)
class LabConfig:
    activations: tuple[str, ...] = DEFAULT_ACTIVATIONS
    seeds: int = 5
    batch_size: int = 32
    # convergence: SGD with momentum, each activation at its best lr of lrs, steps until the
    # training error reaches target_error (checked every eval_every steps), at most epochs
    width: int = 64
    depth: int = 8
    lrs: tuple[float, ...] = (0.01, 0.03, 0.1)
    momentum: float = 0.9
    target_error: float = 0.05
    epochs: int = 12
    eval_every: int = 10
    cnn_channels: int = 16
    cnn_epochs: int = 8
    # gradient flow at initialisation
    flow_depth: int = 24
    flow_width: int = 128
    flow_batch: int = 256
    # dying ReLU: Adam at a normal and a too-high lr, a negative bias init, a narrow-deep net
    dying_activations: tuple[str, ...] = DYING_ACTIVATIONS
    dying_epochs: int = 8
    dying_depth: int = 4
    normal_lr: float = 1e-3
    high_lr: float = 3e-2
    negative_bias: float = -2.0
    narrow_width: int = 4
    narrow_depth: int = 16
    # memory: the convergence MLP at a larger batch
    memory_batch: int = 256
    # exploding gradients: a deep ReLU MLP at He's std times each scale, SGD with and without
    # clipping the gradient norm
    explode_depth: int = 12
    explode_width: int = 64
    explode_scales: tuple[float, ...] = (1.0, 1.5, 2.0)
    explode_epochs: int = 5
    explode_lr: float = 0.01
    clip_norm: float = 1.0
    # ReLU on the output layer: a classifier's logits and a regression with negative targets
    output_epochs: int = 6
    regression_steps: int = 600
    # cost: per-element timings of every activation, training-step timings
    cost_elements: int = 2 ** 20
    cost_repeats: int = 15
    step_repeats: int = 15
    # published results
    born_dead_draws: int = 4000
    born_dead_grid: int = 41
    selu_width: int = 256
    selu_layers: int = 100
    he_width: int = 256
    he_layers: int = 50
    paper_draws: int = 8

    @classmethod
    def preset(cls, quick: bool, **overrides) -> LabConfig:
        base = cls(seeds=3, depth=6, lrs=(0.03, 0.1), epochs=6, cnn_epochs=5, flow_depth=20,
                   dying_epochs=4, born_dead_draws=1500, born_dead_grid=21, selu_width=128,
                   he_width=128, paper_draws=4, explode_epochs=3, output_epochs=4,
                   regression_steps=300, cost_repeats=7, step_repeats=7) if quick else cls()
        overrides = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"LabConfig has no field(s) {sorted(unknown)}")
        return replace(base, **overrides)

    def to_dict(self) -> dict:
        return asdict(self)
