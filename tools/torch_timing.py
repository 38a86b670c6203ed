"""Timing shared by the PyTorch benchmark scripts (tools/torch_*_bench.py): warm-up runs, then the
median, min and max of the timed runs, in seconds, the statistics gazeloc-bench prints for ours."""
import statistics
import time


def timed(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t), min(t), max(t)
