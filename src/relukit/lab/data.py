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


#: Smallest scale a feature is divided by, in the data's units (digits: intensity 0..16).
MIN_SCALE = 1.0


def standardisation(x_train: np.ndarray, min_scale: float = MIN_SCALE
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale per feature from the training split.

    The scale is the standard deviation, but never below ``min_scale``: a feature constant on
    the training split (digits' border pixels, std 0) gets scale 1, and a nearly constant one
    is not blown up. Dividing by ``std + 1e-6`` turned a test image's single non-zero border
    pixel into a feature of 1e6 and its cross-entropy into ~1e3. With digits' intensities in
    0..16, every standardised feature stays within +-16.
    """
    mean = x_train.mean(axis=0)
    scale = np.maximum(x_train.std(axis=0), min_scale)
    return mean, scale


def digits(device="cpu", test_fraction: float = 0.25, split_seed: int = 0) -> Split:
    """The 1,797 8x8 digits, a fixed stratified split, features standardised on train."""
    torch = require("torch", "torch")
    datasets = require("sklearn.datasets", "lab")
    model_selection = require("sklearn.model_selection", "lab")
    x, y = datasets.load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = model_selection.train_test_split(
        x, y, test_size=test_fraction, random_state=split_seed, stratify=y
    )
    mean, scale = standardisation(x_tr)

    def t(a, dtype):
        return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

    return Split(
        t((x_tr - mean) / scale, torch.float32), t(y_tr, torch.long),
        t((x_te - mean) / scale, torch.float32), t(y_te, torch.long),
    )
