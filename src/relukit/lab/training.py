"""Training loops shared by the sections."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import Split


def train_epoch(model, opt, data: Split, batch_size: int, gen: torch.Generator,
                after_step=None) -> float:
    """One pass over the training split in a seeded order; the mean training loss."""
    model.train()
    n = data.x_train.shape[0]
    perm = torch.randperm(n, generator=gen).to(data.x_train.device)
    total = torch.zeros((), dtype=torch.float64, device=data.x_train.device)
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if after_step is not None:
            after_step()
        total += loss.detach() * len(idx)  # on the device: no host sync per step
    return float(total) / n


@torch.no_grad()
def error(model, x: torch.Tensor, y: torch.Tensor) -> float:
    """Classification error in eval mode, restoring the mode after."""
    was = model.training
    model.eval()
    try:
        return float((model(x).argmax(dim=1) != y).float().mean())
    finally:
        model.train(was)


def steps_per_epoch(data: Split, batch_size: int) -> int:
    return -(-data.x_train.shape[0] // batch_size)


def train_to_target(model, opt, data: Split, *, batch_size: int, epochs: int, eval_every: int,
                    target_error: float, gen: torch.Generator, on_epoch=None) -> dict:
    """Train for ``epochs``, measuring the training error every ``eval_every`` steps.

    Returns the error curve (steps, error), the first step at which the training error was
    at most ``target_error`` (None if never) and the test accuracy after each epoch.
    ``on_epoch(model)`` is called after each epoch (e.g. to measure the activations).
    """
    n = data.x_train.shape[0]
    steps, errors, test_acc = [0], [error(model, data.x_train, data.y_train)], []
    reached = 0 if errors[0] <= target_error else None
    step = 0
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen).to(data.x_train.device)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step % eval_every == 0:
                err = error(model, data.x_train, data.y_train)
                if not err == err:  # NaN: diverged
                    err = 1.0
                steps.append(step)
                errors.append(err)
                if reached is None and err <= target_error:
                    reached = step
        test_acc.append(1.0 - error(model, data.x_test, data.y_test))
        if on_epoch is not None:
            on_epoch(model)
    return {"steps": steps, "train_error": errors, "steps_to_target": reached,
            "test_accuracy": test_acc}
