"""Bytes saved for backward: relukit vs torch eager vs torch.compile, per activation and for
whole models; gradients, step time, and 200-step training with ``saves="output"``.

1. Linear -> act -> Linear (256 -> 1024 -> 256, batch 512, float32): the saved-tensor bytes of
   the block, and the activation's extra bits per hidden element beyond Linear -> Linear.
2. Hugging Face GPT-2 (gelu_new), BERT (gelu) and Llama (SiLU, gated MLP) from configs (4 layers,
   hidden 256, batch 8 x 256 tokens, random init) and a Conv-BN-ReLU residual net with a max
   pool and a global average pool: saved-tensor bytes of one training forward (parameters
   excluded) for torch eager, ``torch.compile`` (inductor; counted with the same saved-tensor
   hooks around the compiled call, i.e. what its partitioner keeps), relukit ``convert()`` with
   the planner (``example_inputs=``), relukit ``convert()`` + ``torch.compile``, and relukit with
   ``saves="output"`` on every GELU/SiLU/Mish (what the planner picks off CPU; on CPU it keeps
   their input: see docs/memory.md). Per model: gradient cosine against torch eager, and the
   training step time (fwd+bwd) of each relukit variant over eager's (medians, interleaved).
3. 200 training steps of a tiny GPT-2 and a tiny Llama (AdamW, a synthetic Markov-chain
   language) with torch's exact backward and with ``saves="output"``: final losses, their
   relative difference, a plot (docs/memory_training.png).
4. fwd+bwd of each smooth activation alone, ``saves="output"`` vs torch (bench_inverse).

Writes bench-results/bench_torch_memory.json and, with ``--docs``, the generated section of
docs/memory.md (between its ``bench_torch_memory`` markers) and the plot.

    python benchmarks/bench_torch_memory.py [--quick] [--docs] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import importlib.util
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

import relukit.torch as rt
from relukit.torch.convert import convert

OUT = Path("bench-results")
DOCS = Path(__file__).resolve().parent.parent / "docs"
MIB = 2**20
BEGIN, END = "<!-- bench_torch_memory:begin -->", "<!-- bench_torch_memory:end -->"
SMOOTH = ("gelu", "silu", "mish")


def saved_bytes(model: nn.Module, fn) -> int:
    """Saved-for-backward bytes of ``fn()`` (one training forward), by storage, parameters and
    buffers of ``model`` excluded."""
    return int(rt.saved_tensor_bytes(fn, exclude=[*model.parameters(), *model.buffers()]))


def force_output(model: nn.Module) -> int:
    """saves="output" on every relukit GELU/SiLU/Mish of ``model``; how many."""
    n = 0
    for m in model.modules():
        if getattr(m, "catalogue_name", "") in SMOOTH and getattr(m, "_modes", ()) and \
                getattr(m, "bits", None) is None:
            m.saves = "output"
            n += 1
    return n


# ----------------------------------------------------------------------------- the block


def block_cases():
    """(label, torch module, relukit module)."""
    return [
        ("relu (mask)", nn.ReLU(), rt.ReLU()),
        ("relu (output)", nn.ReLU(), rt.ReLU(saves="output")),
        ("leaky_relu (mask)", nn.LeakyReLU(), rt.LeakyReLU()),
        ("leaky_relu (output)", nn.LeakyReLU(), rt.LeakyReLU(saves="output")),
        ("relu6", nn.ReLU6(), rt.ReLU6()),
        ("elu", nn.ELU(), rt.ELU(saves="output")),
        ("selu", nn.SELU(), rt.SELU(saves="output")),
        ("prelu", nn.PReLU(), rt.PReLU(saves="output")),
        ("gelu", nn.GELU(), rt.GELU(saves="output")),
        ("gelu tanh", nn.GELU("tanh"), rt.GELU("tanh", saves="output")),
        ("silu", nn.SiLU(), rt.SiLU(saves="output")),
        ("mish", nn.Mish(), rt.Mish(saves="output")),
        ("gelu bits=4", nn.GELU(), rt.GELU(bits=4)),
    ]


def run_block(batch=512, d_in=256, hidden=1024, compile_block: bool = True) -> list[dict]:
    torch.manual_seed(0)
    x = torch.randn(batch, d_in)
    fc1, fc2 = nn.Linear(d_in, hidden), nn.Linear(hidden, d_in)

    def bytes_of(act):
        model = nn.Sequential(fc1, act, fc2).train()
        return saved_bytes(model, lambda: model(x))

    base = bytes_of(nn.Identity())
    rows = []
    def compiled_bytes_of(act):
        model = nn.Sequential(fc1, act, fc2).train()
        compiled = torch.compile(model)
        compiled(x).sum().backward()  # compiles forward and backward
        return saved_bytes(model, lambda: compiled(x))

    per_bit = 8 / (batch * hidden)
    compiled_base = compiled_bytes_of(nn.Identity()) if compile_block else None
    for label, t_act, r_act in block_cases():
        t, r = bytes_of(t_act), bytes_of(r_act)
        row = {"activation": label, "torch_extra_bits": (t - base) * per_bit,
               "relukit_extra_bits": (r - base) * per_bit}
        if compiled_base is not None:
            torch._dynamo.reset()
            row["compile_extra_bits"] = (compiled_bytes_of(t_act) - compiled_base) * per_bit
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- models


def gpt2(n_layer, d, vocab=1024, positions=256):
    import transformers as tr

    cfg = tr.GPT2Config(n_layer=n_layer, n_embd=d, n_head=4, vocab_size=vocab,
                        n_positions=positions, bos_token_id=0, eos_token_id=0)
    return tr.GPT2LMHeadModel(cfg)


def bert(n_layer, d, vocab=1024, positions=256):
    import transformers as tr

    cfg = tr.BertConfig(num_hidden_layers=n_layer, hidden_size=d, num_attention_heads=4,
                        intermediate_size=4 * d, vocab_size=vocab,
                        max_position_embeddings=positions)
    return tr.BertForMaskedLM(cfg)


def llama(n_layer, d, vocab=1024, positions=256):
    import transformers as tr

    cfg = tr.LlamaConfig(hidden_size=d, intermediate_size=8 * d // 3 // 8 * 8 + 8,
                         num_hidden_layers=n_layer, num_attention_heads=4, num_key_value_heads=4,
                         vocab_size=vocab, max_position_embeddings=positions)
    return tr.LlamaForCausalLM(cfg)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + x)


def conv_net(c=32):
    return nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                         nn.ReLU(inplace=True), Block(c), nn.MaxPool2d(2), Block(c), Block(c),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))


def _loss_fn(label: str, inputs: tuple):
    """model -> scalar loss for one training forward."""
    if label == "conv_net":
        target = torch.randint(0, 10, (inputs[0].shape[0],),
                               generator=torch.Generator().manual_seed(1))
        return lambda model: nn.functional.cross_entropy(model(*inputs), target)
    ids = inputs[0]
    return lambda model: model(input_ids=ids, labels=ids).loss


def _grads(model: nn.Module, loss_fn) -> torch.Tensor:
    model.zero_grad(set_to_none=True)
    torch.manual_seed(7)  # the same dropout masks in every variant
    loss_fn(model).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float(a @ b / (a.norm() * b.norm()))


def _step(model: nn.Module, loss_fn) -> float:
    model.zero_grad(set_to_none=True)
    torch.manual_seed(7)
    start = time.perf_counter()
    loss_fn(model).backward()
    return time.perf_counter() - start


def run_models(quick: bool, reps: int, compile_models: bool) -> list[dict]:
    n_layer, d, batch, seq = (2, 64, 2, 64) if quick else (4, 256, 8, 256)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 1024, (batch, seq), generator=gen)
    images = torch.randn(batch * 4, 3, 32, 32, generator=gen)
    models = [
        ("gpt2 (gelu_new)", "gpt2", lambda: gpt2(n_layer, d), (ids,)),
        ("bert (gelu)", "bert", lambda: bert(n_layer, d), (ids,)),
        ("llama (silu, gated)", "llama", lambda: llama(n_layer, d), (ids,)),
        ("conv-bn-relu resnet + pools", "conv_net", conv_net, (images,)),
    ]
    rows = []
    for label, kind, build, inputs in models:
        print(f"  {label} ...", flush=True)
        torch.manual_seed(0)
        pristine = build().train()
        loss_fn = _loss_fn(kind, inputs)

        def fwd(model, _inputs=inputs):
            out = model(*_inputs)
            return out.logits if hasattr(out, "logits") else out

        eager = copy.deepcopy(pristine)
        planned = copy.deepcopy(pristine)
        summary = convert(planned, example_inputs=inputs)
        output = copy.deepcopy(planned)
        forced = force_output(output)
        row = {"model": label, "replaced": len(summary),
               "modes": sorted({r.saves or "" for r in summary.replaced}),
               "eager_mib": saved_bytes(eager, lambda m=eager: fwd(m)) / MIB,
               "convert_mib": saved_bytes(planned, lambda m=planned: fwd(m)) / MIB,
               "output_mib": saved_bytes(output, lambda m=output: fwd(m)) / MIB,
               "forced_output_modules": forced}
        g_eager = _grads(eager, loss_fn)
        row["cosine_convert"] = _cosine(_grads(planned, loss_fn), g_eager)
        row["cosine_output"] = _cosine(_grads(output, loss_fn), g_eager)
        if compile_models:
            for key, model in (("compile_mib", eager), ("convert_compile_mib", planned)):
                torch._dynamo.reset()
                compiled = torch.compile(model)
                _grads(compiled, loss_fn)  # compiles forward and backward
                row[key] = saved_bytes(model, lambda c=compiled: fwd(c)) / MIB
        # step time: eager, convert(), saves="output", interleaved
        times: dict[str, list[float]] = {"eager": [], "convert": [], "output": []}
        variants = {"eager": eager, "convert": planned, "output": output}
        for model in variants.values():
            _step(model, loss_fn)  # warm-up
        for _ in range(reps):
            for name, model in variants.items():
                times[name].append(_step(model, loss_fn))
        med = {k: statistics.median(v) for k, v in times.items()}
        row["step_eager_s"] = med["eager"]
        row["step_ratio_convert"] = med["convert"] / med["eager"]
        row["step_ratio_output"] = med["output"] / med["eager"]
        rows.append(row)
        print("   ", {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
              flush=True)
    return rows


# ----------------------------------------------------------------------------- training


def markov_batches(steps: int, batch: int, seq: int, vocab: int, seed: int = 0):
    """A synthetic language: each token follows its predecessor through a fixed random map
    with probability 0.75, else is uniform. Its entropy bounds the loss from below."""
    g = torch.Generator().manual_seed(seed)
    nxt = torch.randperm(vocab, generator=g)
    out = []
    for _ in range(steps):
        x = torch.empty(batch, seq, dtype=torch.long)
        x[:, 0] = torch.randint(0, vocab, (batch,), generator=g)
        for t in range(1, seq):
            keep = torch.rand(batch, generator=g) < 0.75
            x[:, t] = torch.where(keep, nxt[x[:, t - 1]],
                                  torch.randint(0, vocab, (batch,), generator=g))
        out.append(x)
    return out


def train(model: nn.Module, batches, lr: float = 3e-3) -> list[float]:
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    model.train()
    for step, ids in enumerate(batches):
        torch.manual_seed(step)  # the same dropout masks in both runs
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def run_training(steps: int) -> list[dict]:
    vocab, batch, seq = 256, 16, 64
    batches = markov_batches(steps, batch, seq, vocab)
    rows = []
    for label, build in (("tiny gpt2 (gelu_new)", lambda: gpt2(2, 64, vocab, seq)),
                         ("tiny llama (silu)", lambda: llama(2, 64, vocab, seq))):
        print(f"  training {label} ...", flush=True)
        torch.manual_seed(0)
        pristine = build()
        exact = copy.deepcopy(pristine)
        lean = copy.deepcopy(pristine)
        convert(lean, example_inputs=(batches[0],))
        n = force_output(lean)
        l_exact, l_lean = train(exact, batches), train(lean, batches)
        tail = max(1, steps // 20)
        final_exact = statistics.mean(l_exact[-tail:])
        final_lean = statistics.mean(l_lean[-tail:])
        rows.append({"model": label, "steps": steps, "output_modules": n,
                     "loss_exact": l_exact, "loss_output": l_lean,
                     "final_exact": final_exact, "final_output": final_lean,
                     "last_step_exact": l_exact[-1], "last_step_output": l_lean[-1],
                     "relative_gap": abs(final_lean - final_exact) / final_exact,
                     "max_step_gap": max(abs(a - b) / a for a, b in
                                         zip(l_exact, l_lean, strict=True))})
    return rows


def plot_training(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(5.5 * len(rows), 3.8))
    for ax, r in zip(axes, rows, strict=True):
        ax.plot(r["loss_exact"], label="torch (exact backward)", lw=1.6)
        ax.plot(r["loss_output"], label='relukit saves="output"', lw=1.0, ls="--")
        ax.set_title(f"{r['model']}: relative gap at the end {r['relative_gap']:.1e}",
                     fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- activations


def run_activations() -> list[dict]:
    path = Path(__file__).resolve().parent / "bench_inverse.py"
    spec = importlib.util.spec_from_file_location("bench_inverse", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.timing()


# ----------------------------------------------------------------------------- output


def _fmt(v, spec=".1f"):
    return "—" if v is None else format(v, spec)


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [BEGIN, "",
             f"Generated by `python benchmarks/bench_torch_memory.py --docs` on {result['date']}"
             f" ({m['cpu']}, {m['cores']} cores, torch {result['torch']}, transformers "
             f"{result['transformers']}, torch threads {result['threads']}; a shared machine:"
             " times are medians of interleaved repetitions).", ""]
    q = result["quick"]
    size = "2 layers, hidden 64, batch 2 x 64" if q else "4 layers, hidden 256, batch 8 x 256"
    lines += [f"### Whole models: saved-for-backward MiB of one training forward ({size}; "
              "conv net: 3 residual blocks, 32 channels, 32 x 32 images, batch 32)", "",
              "| model | torch eager | torch.compile | relukit `convert()` | relukit + compile |"
              " relukit `saves=\"output\"` | over compile (convert / output) |"
              " grad cosine (convert / output) |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["models"]:
        comp = r.get("compile_mib")
        ratios = "—" if comp is None else (
            f"{r['convert_mib'] / comp:.2f} / {r['output_mib'] / comp:.2f}")
        lines.append(
            f"| {r['model']} | {r['eager_mib']:.1f} | {_fmt(comp)} | {r['convert_mib']:.1f} | "
            f"{_fmt(r.get('convert_compile_mib'))} | {r['output_mib']:.1f} | {ratios} | "
            f"{r['cosine_convert']:.7f} / {r['cosine_output']:.7f} |")
    lines += ["", "`convert()` is the default: the planner, which on CPU keeps the input of"
              " GELU, SiLU and Mish (their `saves=\"output\"` backward is 2-5x torch's there)"
              " and the output of everything else when a later op keeps it. The"
              " `saves=\"output\"` column sets it on every GELU/SiLU/Mish (the planner's choice"
              " on CUDA).", "",
              "### Training step time (fwd+bwd), relukit over torch eager", "",
              "| model | eager step | `convert()` | `saves=\"output\"` |", "|---|---:|---:|---:|"]
    for r in result["models"]:
        lines.append(f"| {r['model']} | {r['step_eager_s'] * 1e3:.0f} ms | "
                     f"{r['step_ratio_convert']:.3f}x | {r['step_ratio_output']:.3f}x |")
    if result.get("activations"):
        lines += ["", "### Each smooth activation alone: fwd+bwd, CPU float32, 1M elements", "",
                  "| function | torch | `saves=\"output\"` | ratio |", "|---|---:|---:|---:|"]
        for r in result["activations"]:
            lines.append(f"| {r['function']} | {r['torch_fwd_bwd_ms']:.2f} ms | "
                         f"{r['output_fwd_bwd_ms']:.2f} ms | {r['ratio']:.2f}x |")
    if result.get("training"):
        lines += ["", "### 200 training steps with `saves=\"output\"` vs torch's exact backward",
                  "", "| model | final loss, exact | final loss, output | relative gap | "
                  "largest relative gap at any step |", "|---|---:|---:|---:|---:|"]
        for r in result["training"]:
            lines.append(f"| {r['model']} ({r['steps']} steps) | {r['final_exact']:.6f} | "
                         f"{r['final_output']:.6f} | {r['relative_gap']:.1e} | "
                         f"{r['max_step_gap']:.1e} |")
        lines += ["", "Final loss: mean of the last 5% of steps. AdamW, lr 3e-3, batch 16 x 64, "
                  "a synthetic Markov-chain language (vocabulary 256).", "",
                  "![training loss, exact vs saves=output](memory_training.png)"]
    lines += ["", "### Linear(256→1024) → act → Linear(1024→256): extra bits per hidden element",
              "", "Bits beyond what the two Linear layers keep without an activation (the same "
              "baseline for torch.compile: the compiled Identity block).", "",
              "| activation | torch | torch.compile | relukit |", "|---|---:|---:|---:|"]
    for r in result["block"]:
        comp = r.get("compile_extra_bits")
        lines.append(f"| {r['activation']} | {r['torch_extra_bits']:g} | "
                     f"{'-' if comp is None else format(comp, 'g')} | "
                     f"{r['relukit_extra_bits']:g} |")
    lines += ["", END]
    return "\n".join(lines)


def write_docs(result: dict) -> None:
    path = DOCS / "memory.md"
    text = path.read_text() if path.exists() else "# Memory\n\n"
    block = markdown(result)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Measured\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny models (a smoke run)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--docs", action="store_true",
                        help="write docs/memory.md's generated section and the plot")
    parser.add_argument("--steps", type=int, default=200, help="training steps (0: none)")
    parser.add_argument("--reps", type=int, default=5, help="step-time repetitions")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        import transformers

        block = run_block(*((64, 32, 128) if args.quick else ()),
                          compile_block=not args.no_compile)
        models = run_models(args.quick, args.reps, not args.no_compile)
        training = run_training(20 if args.quick else args.steps) if args.steps else []
        activations = [] if args.quick else run_activations()
    finally:
        torch.set_num_threads(threads)
    result = {
        "benchmark": "bench_torch_memory", "quick": args.quick,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__, "transformers": transformers.__version__,
        "threads": args.threads,
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": __import__("os").cpu_count()},
        "block": block, "models": models, "training": training, "activations": activations,
    }
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
        result["machine"]["cpu"] = cpu
    except (OSError, StopIteration):
        pass
    print(markdown(result))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_torch_memory.json").write_text(json.dumps(result, indent=2))
    if args.docs:
        write_docs(result)
        if training:
            plot_training(training, DOCS / "memory_training.png")
    bad = [r for r in models if min(r["cosine_convert"], r["cosine_output"]) < 0.99999
           or not math.isfinite(r["output_mib"])]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
