#!/usr/bin/env bash
# The prepared GPU check: every GPU benchmark and a smoke run of the `full` preset, sized to
# finish within 8 minutes on one H100/H200. Run it on the lent device (see README), e.g.
#   run(command="bash scripts/gpu_check.sh", carry=[".venv"])  or after `make` on that machine.
# Results go to $OUT (or ./gpu_results) as JSON lines, with the card's name in every record.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-gpu_results}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
t0=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - t0 )) s)"; }
step body;          timeout 90  $PY -m dalnb.bench body --device cuda --batches 1,64,1024,8192 > "$OUT/body.jsonl"
step synth;         timeout 60  $PY -m dalnb.bench synth --set "sizes=[224]" --set n=256 > "$OUT/synth.jsonl"   # CPU-side generator, all cores
step registration; timeout 200 $PY -m dalnb.bench registration --device cuda \
    --set n=200 --set "iters=[300]" --set "speed_batches=[1,1024,16384]" --set "compile_modes=[false,true]" > "$OUT/registration.jsonl"
step lifter;        timeout 120 $PY -m dalnb.bench lifter --device cuda --set steps=4000 --set "settings=[full]" > "$OUT/lifter.jsonl"
step full-smoke;    timeout 150 $PY -m dalnb.pipeline --preset full --run-dir "$OUT/run_full_smoke" --reports "$OUT/reports" \
    --override data.n_train=2000 --override data.n_test=200 --override lifter.steps=2000 --override registration.n_study=100 \
    > "$OUT/full_smoke.log" 2>&1
step done
cat "$OUT"/*.jsonl | cut -c1-220
