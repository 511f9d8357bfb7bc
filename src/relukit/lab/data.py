"""Data that ships with the install: scikit-learn's bundled digits (no download)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._optional import require

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class Split:
    x_train: Tensor  # (N, 64), standardised with the training statistics
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor

    @property
    def features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def classes(self) -> int:
        return 10


def digits(device="cpu", test_fraction: float = 0.25, split_seed: int = 0) -> Split:
    """The 1,797 8x8 digits, a fixed stratified split, features standardised on train."""
    torch = require("torch", "torch")
    datasets = require("sklearn.datasets", "lab")
    model_selection = require("sklearn.model_selection", "lab")
    x, y = datasets.load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = model_selection.train_test_split(
        x, y, test_size=test_fraction, random_state=split_seed, stratify=y
    )
    mean = x_tr.mean(axis=0)
    std = x_tr.std(axis=0) + 1e-6  # constant border pixels have std 0

    def t(a, dtype):
        return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

    return Split(
        t((x_tr - mean) / std, torch.float32), t(y_tr, torch.long),
        t((x_te - mean) / std, torch.float32), t(y_te, torch.long),
    )
