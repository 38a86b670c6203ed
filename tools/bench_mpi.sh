#!/bin/sh
# Data-parallel training on this machine (docs/mpi.md "Scaling"): gazeloc-train's step time with the same
# global batch on 1 rank and on 2 ranks (one OpenMP thread per rank, so core for core), the scaling
# efficiency T1 / (N T_N), the time in the gradient all-reduce and the bytes it moves per step.
#   sh tools/bench_mpi.sh BIN_DIR        (make bench runs it; BENCH_MPI_SIZE, _BATCH, _STEPS override)
# Prints one table; skips with the reason when the build has no MPI or mpirun is missing.
set -eu
BIN=${1:-build/release/bin}
SIZE=${BENCH_MPI_SIZE:-128}
BATCH=${BENCH_MPI_BATCH:-8}
STEPS=${BENCH_MPI_STEPS:-4}
if ! command -v mpirun >/dev/null 2>&1; then echo "bench_mpi: skipped: no mpirun on PATH"; exit 0; fi
if ! ldd "$BIN/gazeloc-train" | grep -q libmpi; then echo "bench_mpi: skipped: gazeloc-train was built with MPI=0"; exit 0; fi
TMP=$(mktemp -d /tmp/gazeloc-bench-mpi-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$BIN/gazeloc-synth" --out "$TMP/d" --seed 3 --images 80 --readings 30 --size 256 --no-calibration --quiet >/dev/null
"$BIN/gazeloc-label" "$TMP/d/reflacx/main_data" --out "$TMP/labels.csv" 2>/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="mpirun --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none --bind-to none -x OMP_NUM_THREADS"
ARGS="--method et --preset demo --size $SIZE --batch $BATCH --batches-per-epoch $((STEPS + 1)) --epochs 1 --threads 1 --quiet
      --data $TMP/d --labels $TMP/labels.csv --cache $TMP/cache"

# run NAME LAUNCH...: the "timing:" line of a run -> "step_s comm_s bytes"
run() {
  name=$1; shift
  "$@" $ARGS --out "$TMP/$name" >"$TMP/$name.log" 2>&1 || { cat "$TMP/$name.log" >&2; exit 1; }
  sed -n -e 's/.*timing: \([0-9.]*\) s per step over [0-9]* steps; gradient all-reduce \([0-9.]*\) s per step, \([0-9]*\) bytes.*/\1 \2 \3/p' \
         -e 's/.*timing: \([0-9.]*\) s per step over [0-9]* steps (one process).*/\1 0 0/p' "$TMP/$name.log"
}

set -- $(OMP_NUM_THREADS=1 run one "$BIN/gazeloc-train"); t1=$1
set -- $(OMP_NUM_THREADS=2 run one2 "$BIN/gazeloc-train"); t12=$1
set -- $(OMP_NUM_THREADS=1 run two $MPIRUN -np 2 "$BIN/gazeloc-train"); t2=$1; c2=$2; bytes=$3
set -- $(OMP_NUM_THREADS=1 GAZELOC_ALLREDUCE=mpi run twom $MPIRUN -x GAZELOC_ALLREDUCE -np 2 "$BIN/gazeloc-train"); t2m=$1; c2m=$2
set -- $(OMP_NUM_THREADS=1 run twod $MPIRUN -np 2 "$BIN/gazeloc-train" --deterministic); t2d=$1; c2d=$2
load=$(cut -d' ' -f1 /proc/loadavg)
awk -v t1="$t1" -v t12="$t12" -v t2="$t2" -v c2="$c2" -v t2m="$t2m" -v c2m="$c2m" -v t2d="$t2d" -v c2d="$c2d" -v b="$bytes" -v s="$SIZE" \
    -v bt="$BATCH" -v n="$STEPS" -v load="$load" -v cores="$(nproc)" 'BEGIN {
  printf "\nbench_mpi: gazeloc-train, %d px, global batch %d, mean of %d steps (the first left out); %d cores, load %s\n", s, bt, n, cores, load
  printf "  %-40s %10s %10s %12s\n", "configuration", "s/step", "img/s", "efficiency"
  printf "  %-40s %10.3f %10.2f %12s\n", "1 rank x 1 thread", t1, bt / t1, "(base)"
  printf "  %-40s %10.3f %10.2f %12s\n", "1 rank x 2 threads (OpenMP)", t12, bt / t12, sprintf("%.0f%%", 100 * t1 / (2 * t12))
  printf "  %-40s %10.3f %10.2f %12s\n", "2 ranks x 1 thread, fast", t2, bt / t2, sprintf("%.0f%%", 100 * t1 / (2 * t2))
  printf "  %-40s %10.3f %10.2f %12s\n", "2 ranks x 1 thread, fast, MPI_Allreduce", t2m, bt / t2m, sprintf("%.0f%%", 100 * t1 / (2 * t2m))
  printf "  %-40s %10.3f %10.2f %12s\n", "2 ranks x 1 thread, --deterministic", t2d, bt / t2d, sprintf("%.0f%%", 100 * t1 / (2 * t2d))
  printf "  gradient all-reduce per step: %.1f MB arena; ring model sends 2(N-1)/N x that = %.1f MB per rank at N = 2;\n", b / 1e6, b / 1e6
  printf "  time in it per step (waiting for the slower rank included): %.3f s fast (alltoall + tree + allgather),\n", c2
  printf "  %.3f s fast with MPI_Allreduce, %.3f s deterministic\n", c2m, c2d
}'
