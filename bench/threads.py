"""Thread layout for ONNX Runtime on this machine: one session with all cores vs one single-thread session per core.

Run: .venv/bin/python bench/threads.py [--model models/default] [--batch-sizes 8 16 32 64 128]
Same length-sorted, dynamically padded batches of the dev split (twice over) for both layouts, fused fp32 and
int8 graphs; prints sentences/s (best of two) and the ratio. Not a test: timings are noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from inference.backends import ONNX_FILE, ONNX_INT8_FILE, Encoder, onnx_session
from inference.paths import PROJECT_ROOT
from training.splits import read_split


def best_seconds(run, repeats: int = 2) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "default")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    texts = [r["text"] for r in read_split(PROJECT_ROOT / "data" / "build" / "splits" / "dev.jsonl")] * 2
    info = json.loads((args.model / "model_info.json").read_text(encoding="utf-8"))
    encoder = Encoder(args.model, int(info.get("max_length", 128)))
    encodings = encoder.encode(texts)
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
    for graph in (ONNX_FILE, ONNX_INT8_FILE):
        if not (args.model / graph).is_file():
            continue
        shared = onnx_session(args.model / graph, cores)
        pool = ThreadPoolExecutor(cores)
        own = threading.local()  # one single-thread session per worker thread of the pool, made on its first batch
        names = {i.name for i in shared.get_inputs()}
        for size in args.batch_sizes:
            batches = [{k: v for k, v in encoder.pad([encodings[i] for i in order[b:b + size]]).items() if k in names}
                       for b in range(0, len(order), size)]

            def one_session() -> None:
                for features in batches:
                    shared.run(None, features)

            def run_on_own_session(features) -> None:
                if not hasattr(own, "session"):
                    own.session = onnx_session(args.model / graph, 1)
                own.session.run(None, features)

            def session_per_core() -> None:
                list(pool.map(run_on_own_session, batches))

            one_session(), session_per_core()  # warm up: sessions made, memory arenas grown
            a, b = best_seconds(one_session), best_seconds(session_per_core)
            print(f"{graph} batch {size}: 1 session x {cores} threads {len(texts) / a:.0f}/s, "
                  f"{cores} sessions x 1 thread {len(texts) / b:.0f}/s, ratio {a / b:.2f}", flush=True)
        pool.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
