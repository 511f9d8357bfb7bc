"""k-bit GELU backward quality: gradient cosine similarity and training curves vs exact.

1. Cosine similarity between the parameter gradient with a k-bit GELU backward and the exact
   one, k = 1..8, on real networks: a tiny GPT-2 (exact-GELU config, random init, generated
   tokens) and the digits MLP before and after training. Target: >= 0.999 from k = 4.
2. Training runs with the same initial weights and batch order: the digits MLP
   (sklearn.datasets.load_digits, 64-128-128-10, Adam) and a tiny GPT-2 on tokens from a
   random sparse Markov chain, exact vs bits = 1, 2, 4. Loss curves go to
   bench-results/fewbit_loss.png and docs/fewbit_loss.png.

Writes bench-results/bench_fewbit.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch
from torch import nn

import relukit.torch as rt
from relukit.torch.convert import convert
from relukit.torch.fewbit import get_codebook

OUT = Path("bench-results")
DOCS = Path(__file__).resolve().parent.parent / "docs"
BITS = (1, 2, 3, 4, 5, 6, 7, 8)
TRAIN_BITS = (None, 1, 2, 4)
TARGET_COS = 0.999


def set_bits(model: nn.Module, bits: int | None) -> nn.Module:
    """A copy of ``model`` with every GELU (already relukit's) using ``bits``."""
    model = copy.deepcopy(model)
    convert(model, bits=bits)
    return model


def flat_grad(model: nn.Module, loss_fn) -> torch.Tensor:
    model.zero_grad(set_to_none=True)
    loss_fn(model).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])


def cosines(model: nn.Module, loss_fn) -> dict[int, float]:
    exact = flat_grad(set_bits(model, None), loss_fn).double()
    out = {}
    for k in BITS:
        g = flat_grad(set_bits(model, k), loss_fn).double()
        out[k] = float(torch.dot(g, exact) / (g.norm() * exact.norm()))
    return out


# ----------------------------------------------------------------------------- data, models


def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_tr)
    as_t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return (as_t(scaler.transform(x_tr)), torch.tensor(y_tr), as_t(scaler.transform(x_te)),
            torch.tensor(y_te))


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), rt.GELU(), nn.Linear(128, 128), rt.GELU(),
                         nn.Linear(128, 10))


def markov_tokens(n_seq, seq_len, vocab=64, fanout=4, seed=0):
    """Sequences from a random Markov chain where each token has ``fanout`` successors."""
    gen = torch.Generator().manual_seed(seed)
    succ = torch.stack([torch.randperm(vocab, generator=gen)[:fanout] for _ in range(vocab)])
    tokens = torch.empty(n_seq, seq_len, dtype=torch.long)
    tokens[:, 0] = torch.randint(0, vocab, (n_seq,), generator=gen)
    for t in range(1, seq_len):
        pick = torch.randint(0, fanout, (n_seq,), generator=gen)
        tokens[:, t] = succ[tokens[:, t - 1], pick]
    return tokens


def tiny_gpt2(vocab=64):
    import transformers as tr

    torch.manual_seed(0)
    cfg = tr.GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=vocab, n_positions=64,
                        activation_function="gelu", bos_token_id=0, eos_token_id=0,
                        attn_pdrop=0.0, embd_pdrop=0.0, resid_pdrop=0.0)  # comparable runs
    model = tr.GPT2LMHeadModel(cfg)
    convert(model)  # HF's exact GELU -> relukit GELU, whose bits set_bits() then changes
    return model


def gpt2_loss(tokens):
    return lambda model: model(tokens, labels=tokens).loss


# ----------------------------------------------------------------------------- training


def train_mlp(model, data, epochs, batch=64, lr=1e-3):
    x_tr, y_tr, x_te, y_te = data
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(x_tr), generator=order)
        for i in range(0, len(x_tr), batch):
            idx = perm[i:i + batch]
            loss = nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    with torch.no_grad():
        acc = float((model(x_te).argmax(1) == y_te).float().mean())
    return losses, acc


def train_gpt2(model, tokens, steps, batch=16, lr=3e-3):
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(tokens), (batch,), generator=order)
        loss = model(tokens[idx], labels=tokens[idx]).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def smooth(values, window):
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def plot(curves_mlp, curves_gpt, paths) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, curves, title, window in (
        (axes[0], curves_mlp, "digits MLP (64-128-128-10, GELU, Adam)", 20),
        (axes[1], curves_gpt, "tiny GPT-2 on Markov-chain tokens (GELU)", 10),
    ):
        for label, losses in curves.items():
            ax.plot(smooth(losses, window), label=label, lw=1.4,
                    ls="-" if label == "exact" else "--")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel(f"training loss (moving mean of {window})")
        ax.set_yscale("log")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle("k-bit GELU backward (relukit.torch, bits=k) vs exact: same init, same batches")
    fig.tight_layout()
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/*.png")
    args = parser.parse_args(argv)
    epochs, gpt_steps = (2, 10) if args.quick else (20, 300)

    data = digits()
    tokens = markov_tokens(512, 64)
    gpt_batch = tokens[:16]
    base_mlp = mlp()
    mlp_loss = lambda m: nn.functional.cross_entropy(m(data[0][:256]), data[1][:256])  # noqa: E731

    cos = {
        "N(0,1) expected": {k: get_codebook("gelu", k).expected_cosine for k in BITS},
        "GPT-2 (init)": cosines(tiny_gpt2(), gpt2_loss(gpt_batch)),
        "digits MLP (init)": cosines(base_mlp, mlp_loss),
    }
    curves_mlp, accuracy, curves_gpt = {}, {}, {}
    for bits in TRAIN_BITS:
        label = "exact" if bits is None else f"bits={bits}"
        model = set_bits(base_mlp, bits)
        curves_mlp[label], accuracy[label] = train_mlp(model, data, epochs)
        if bits is None:
            trained = model
        curves_gpt[label] = train_gpt2(set_bits(tiny_gpt2(), bits), tokens, gpt_steps)
    cos["digits MLP (trained)"] = cosines(trained, mlp_loss)

    paths = [args.out / "fewbit_loss.png"] + ([] if args.no_docs else [DOCS / "fewbit_loss.png"])
    plot(curves_mlp, curves_gpt, paths)
    final = lambda losses: sum(losses[-20:]) / len(losses[-20:])  # noqa: E731
    summary = {label: {"mlp_final_loss": final(curves_mlp[label]),
                       "mlp_test_accuracy": accuracy[label],
                       "gpt2_final_loss": final(curves_gpt[label])} for label in curves_mlp}
    print_tables(cos, summary)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "bench_fewbit", "quick": args.quick, "target_cos": TARGET_COS,
              "cosine": {name: {str(k): v for k, v in row.items()} for name, row in cos.items()},
              "training": summary, "mlp_epochs": epochs, "gpt2_steps": gpt_steps,
              "curves": {"mlp": curves_mlp, "gpt2": curves_gpt},
              "plots": [str(p) for p in paths]}
    (args.out / "bench_fewbit.json").write_text(json.dumps(result, indent=1))
    measured = [row for name, row in cos.items() if name != "N(0,1) expected"]
    ok = all(row[k] >= TARGET_COS for row in measured for k in BITS if k >= 4)
    return 0 if ok else 1


def print_tables(cos, summary) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    t = Table(title=f"k-bit GELU: cosine similarity of the parameter gradient to exact "
                    f"(target >= {TARGET_COS} from k = 4)")
    t.add_column("k", justify="right")
    for name in cos:
        t.add_column(name, justify="right")
    for k in BITS:
        t.add_row(str(k), *(f"{row[k]:.6f}" for row in cos.values()))
    console.print(t)
    t = Table(title="training with a k-bit GELU backward (same init, same batches)")
    for col in ("backward", "MLP final loss", "MLP test accuracy", "GPT-2 final loss"):
        t.add_column(col, justify="left" if col == "backward" else "right")
    for label, row in summary.items():
        t.add_row(label, f"{row['mlp_final_loss']:.4f}", f"{row['mlp_test_accuracy']:.3f}",
                  f"{row['gpt2_final_loss']:.4f}")
    console.print(t)


if __name__ == "__main__":
    sys.exit(main())
