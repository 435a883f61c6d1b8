"""Load test of `sourcing serve` on 127.0.0.1: concurrent clients, mixed requests, bounded in time.

Run: python bench/load_test.py [--model DIR] [--clients 32] [--seconds 60] [--warmup 10]
Starts the server twice (dynamic batching on, then one request per model call), drives each with the same
mix of requests, and writes bench/load_results.md: requests/s, p50/p99 latency, errors, and the server's RSS
sampled every second, with whether it stays flat: RSS after warm-up vs at the end, and its slope over the
second half of the run (a leak shows as a steady climb there; warm-up growth does not).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = [json.loads(line)["text"] for line in (ROOT / "data/labels/authored_new.jsonl").read_text().splitlines()[:400]]
ARTICLE = (ROOT / "data/examples/example_article.txt").read_text()
# RSS counts as flat when its slope over the second half stays within this (MiB per minute).
FLAT_MIB_PER_MIN = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory_trend(samples: list[tuple[float, float]], warmup: float) -> dict:
    """RSS after `warmup` seconds, and the least-squares slope (MiB/min) of RSS over the second half of the run.

    `samples` are (seconds since the load started, RSS MiB). Flat: the slope is within FLAT_MIB_PER_MIN.
    """
    if len(samples) < 4:
        return {"rss_mib_warm": None, "rss_slope_mib_per_min": None, "rss_flat": None}
    warm = next((rss for t, rss in samples if t >= warmup), samples[-1][1])
    second_half = [(t, rss) for t, rss in samples if t >= samples[-1][0] / 2]
    slope = statistics.linear_regression([t for t, _ in second_half], [rss for _, rss in second_half]).slope * 60
    return {"rss_mib_warm": warm, "rss_slope_mib_per_min": slope, "rss_flat": abs(slope) <= FLAT_MIB_PER_MIN}


def client(url: str, stop: float, seed: int, latencies: list, errors: list) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < stop:
            roll = rng.random()
            started = time.monotonic()
            try:
                if roll < 0.7:
                    response = http.post("/v1/classify", json={"sentences": rng.sample(SENTENCES, rng.randint(1, 8))})
                elif roll < 0.9:
                    response = http.post("/v1/classify", json={"text": ARTICLE})
                else:
                    response = http.get("/health")
                if response.status_code != 200:
                    errors.append(response.status_code)
                    continue
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
                continue
            latencies.append(time.monotonic() - started)


def run(model: str, clients: int, seconds: float, max_batch: int, warmup: float) -> dict:
    port = free_port()
    env = {**os.environ, "SOURCING_MAX_BATCH": str(max_batch), "SOURCING_BATCH_WAIT_MS": "5" if max_batch > 1 else "0"}
    server = subprocess.Popen([sys.executable, "-m", "training.cli", "serve", "--model", model, "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        latencies: list[float] = []
        errors: list = []
        samples: list[tuple[float, float]] = []  # (seconds since the load started, RSS MiB), one a second
        started = time.monotonic()
        stop = started + seconds
        threads = [threading.Thread(target=client, args=(url, stop, i, latencies, errors)) for i in range(clients)]
        for thread in threads:
            thread.start()
        while (now := time.monotonic()) < stop:
            samples.append((now - started, rss_mib(server.pid)))
            time.sleep(max(0.0, started + len(samples) - time.monotonic()))
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        server.wait(30)
    ordered = sorted(latencies)
    memory = [rss for _, rss in samples]
    return {"max_batch": max_batch, "requests": len(latencies), "errors": len(errors), "error_kinds": sorted(set(map(str, errors))),
            "requests_per_s": len(latencies) / seconds,
            "p50_ms": 1000 * statistics.median(ordered) if ordered else None,
            "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))] if ordered else None,
            "rss_mib_first": memory[1] if len(memory) > 1 else None, "rss_mib_last": memory[-1] if memory else None,
            "rss_mib_max": max(memory) if memory else None, **memory_trend(samples, warmup),
            "rss_samples": [(round(t, 1), round(rss, 1)) for t, rss in samples]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models/default"))
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load before the 'warm' RSS reading")
    args = parser.parse_args()
    results = [run(args.model, args.clients, args.seconds, max_batch, args.warmup) for max_batch in (64, 1)]
    lines = [f"Load test: {args.clients} clients, {args.seconds:.0f} s each, mixed requests (70% 1-8 sentences, "
             f"20% a 12-sentence article, 10% health), server on 127.0.0.1, `{os.cpu_count()}` cores.", "",
             "| batching | requests | errors | requests/s | p50 ms | p99 ms | "
             f"RSS MiB (at 1 s / {args.warmup:.0f} s / end / max) | RSS slope, 2nd half (MiB/min) | memory flat |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        name = "dynamic (up to 64 sentences, 5 ms)" if r["max_batch"] > 1 else "off (one request per model call)"
        lines.append(f"| {name} | {r['requests']} | {r['errors']} | {r['requests_per_s']:.1f} | {r['p50_ms']:.0f} | "
                     f"{r['p99_ms']:.0f} | {r['rss_mib_first']:.0f} / {r['rss_mib_warm']:.0f} / {r['rss_mib_last']:.0f} / "
                     f"{r['rss_mib_max']:.0f} | {r['rss_slope_mib_per_min']:+.1f} | {'yes' if r['rss_flat'] else 'no'} |")
    lines += ["", f"Server RSS sampled every second. Memory is flat when its least-squares slope over the second "
                  f"half of the run is within ±{FLAT_MIB_PER_MIN:.0f} MiB/min; growth during warm-up (allocator "
                  "arenas, batch shapes seen for the first time) is not a leak."]
    (ROOT / "bench" / "load_results.md").write_text("\n".join(lines) + "\n")
    (ROOT / "bench" / "load_results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
