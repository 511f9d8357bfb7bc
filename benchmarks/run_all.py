"""`make bench`: run every benchmarks/bench_*.py (each exposes ``main(argv=None)``).

Results go to bench-results/<name>.json; each benchmark prints its own table;
bench_torch_memory also rewrites the generated section of docs/memory.md. Run on an
otherwise idle machine: these are medians of repeated runs, and ratios are measured side by
side in one run, but a busy machine still moves them.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: arguments ``make bench`` passes: bench_torch_memory regenerates docs/memory.md's tables and
#: its training plot from this run
ARGS = {"bench_torch_memory": ["--docs"]}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    only = set(argv)
    failed = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem
        if only and name not in only and name.removeprefix("bench_") not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        start = time.perf_counter()
        try:
            spec.loader.exec_module(module)
            module.main(list(ARGS.get(name, [])))
        except Exception:  # one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            failed.append(name)
        print(f"--- {name}: {time.perf_counter() - start:.1f} s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
