"""Timing shared by the PyTorch benchmark scripts (tools/torch_*_bench.py): warm-up runs, then the
median, min and max of the timed runs, in seconds, the statistics gazeloc-bench prints for ours; and the
--serve loop through which gazeloc-bench alternates its runs with PyTorch's (apps/bench/torch_peer.c)."""
import statistics
import sys
import time

import torch


def timed(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t), min(t), max(t)


def serve(make):
    """Answers lines "SPEC:WHICH REPS" from stdin: make(SPEC) gives a dict of callables (kept until the next
    SPEC), WHICH picks one; it runs untimed for 30 ms (threads and caches warm again after gazeloc's turn,
    whose OpenMP threads spin up to ~11 ms; TURN_WARM in apps/bench/torch_peer.c),
    then REPS timed runs, printed in seconds on one line."""
    kept = (None, None)
    for line in sys.stdin:
        key, reps = line.split()
        spec, which = key.split(":")
        if kept[0] != spec:
            kept = (None, None)  # free the last problem's tensors first
            kept = (spec, make(spec))
        fn = kept[1][which]
        t = []
        with torch.no_grad():
            t0 = time.perf_counter()
            while True:
                fn()
                if time.perf_counter() - t0 >= 0.030:
                    break
            for _ in range(int(reps)):
                t0 = time.perf_counter()
                fn()
                t.append(time.perf_counter() - t0)
        print(" ".join("%.9f" % v for v in t), flush=True)
