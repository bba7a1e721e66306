#!/usr/bin/env python3
# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""What a lease costs from Python compared with C++, on memory://.

One call = next() + release() of the lease, the cycle a dialer runs per call. The C++ side is
lease_loop.cpp (same workload: 1000 numbers in NPA 212, destination 212-555-0199, one campaign).
Rounds alternate between the two so that load from other processes hits both alike. Each round
reports wall time and the thread's CPU time; the verdict uses CPU time, which a busy shared
machine disturbs far less (wall time there mostly measures the neighbours).

    # in a venv where `pip install .` put cidrot, with libcidrot installed to <prefix>:
    cmake -S bench/python_vs_cpp -B build-pybench -DCMAKE_PREFIX_PATH=<prefix>
    cmake --build build-pybench
    python bench/python_vs_cpp/bench.py --cpp build-pybench/lease_loop

Exits 1 when the CPU-time ratio Python/C++ exceeds --max-ratio (default 2.0).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Tuple

import cidrot


def make_rotator() -> cidrot.Rotator:
    rot = cidrot.Rotator("memory://")
    rot.add_numbers([{"caller_id": f"212555{i:04d}"} for i in range(1000)])
    return rot


Sample = Tuple[float, float]  # (wall ns per call, thread CPU ns per call)


def python_round_release(rot: cidrot.Rotator, calls: int) -> Sample:
    nxt = rot.next
    c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
    for _ in range(calls):
        nxt("2125550199", "bench", "agent1").release()
    t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
    return (t1 - t0) / calls, (c1 - c0) / calls


def python_round_with(rot: cidrot.Rotator, calls: int) -> Sample:
    nxt = rot.next
    c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
    for _ in range(calls):
        with nxt("2125550199", "bench", "agent1"):
            pass
    t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
    return (t1 - t0) / calls, (c1 - c0) / calls


def cpp_round(binary: str, calls: int) -> Sample:
    out = subprocess.run([binary, str(calls), "1"], check=True, capture_output=True, text=True)
    fields = out.stdout.split()
    return float(fields[3]), float(fields[5])


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cpp", required=True, help="path of the built lease_loop")
    ap.add_argument("--calls", type=int, default=200000, help="calls per round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--max-ratio", type=float, default=2.0)
    args = ap.parse_args()

    rot = make_rotator()
    python_round_release(rot, args.calls // 10)  # warm-up, as lease_loop does
    runners: Dict[str, Callable[[], Sample]] = {
        "cpp": lambda: cpp_round(args.cpp, args.calls),
        "py_release": lambda: python_round_release(rot, args.calls),
        "py_with": lambda: python_round_with(rot, args.calls),
    }
    samples: Dict[str, List[Sample]] = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            samples[name].append(run())

    wall = {k: statistics.median(s[0] for s in v) for k, v in samples.items()}
    cpu = {k: statistics.median(s[1] for s in v) for k, v in samples.items()}
    ratio = cpu["py_release"] / cpu["cpp"]
    labels = {
        "cpp": "C++ `rot.next(req)` + `rot.release(id)`",
        "py_release": "Python `rot.next(...).release()`",
        "py_with": "Python `with rot.next(...):`",
    }
    rows: List[str] = [
        f"- machine: {cpu_model()} ({os.cpu_count()} CPUs), {platform.system()} "
        f"{platform.release()}, load average {os.getloadavg()[0]:.1f}; Python "
        f"{platform.python_version()}, cidrot {cidrot.__version__}",
        f"- {args.rounds} alternating rounds x {args.calls} calls; medians per call",
        "",
        "| one call = next() + release() on memory:// | CPU ns | vs C++ | wall ns | vs C++ |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for k in runners:
        rows.append(
            f"| {labels[k]} | {cpu[k]:.0f} | {cpu[k] / cpu['cpp']:.2f}x "
            f"| {wall[k]:.0f} | {wall[k] / wall['cpp']:.2f}x |"
        )
    rows.append("")
    for k, v in samples.items():
        rows.append(f"- {k} rounds (CPU ns): " + ", ".join(f"{s[1]:.0f}" for s in v))
    print("\n".join(rows))
    if ratio > args.max_ratio:
        print(f"FAIL: Python/C++ CPU time = {ratio:.2f} > {args.max_ratio}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
