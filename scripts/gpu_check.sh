#!/usr/bin/env bash
# The prepared GPU check: every GPU benchmark and a smoke run of the `full` preset, sized to
# finish within 8 minutes on one H100/H200 (the timeouts below add up to 470 s). Run it on the
# lent device, e.g. run(command="bash scripts/gpu_check.sh", carry=[".venv"]), or after `make`
# on that machine. Results go to $OUT (or ./gpu_results) as JSON lines, with the card's name in
# every record; copy them into benchmarks/*.jsonl to keep them.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-gpu_results}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
t0=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - t0 )) s)"; }
step body;          timeout 45  $PY -m dalnb.bench body --device cuda --batches 1,64,1024,8192 > "$OUT/body.jsonl"
step synth;         timeout 30  $PY -m dalnb.bench synth --set "sizes=[224]" --set n=256 > "$OUT/synth.jsonl"   # CPU-side generator, all cores
step registration;  timeout 60  $PY -m dalnb.bench registration --device cuda \
    --set n=200 --set "iters=[300]" --set "speed_batches=[1,4096]" --set "compile_modes=[false]" > "$OUT/registration.jsonl"
step predict;       timeout 45  $PY -m dalnb.bench predict --device cuda > "$OUT/predict.jsonl"
step lifter;        timeout 40  $PY -m dalnb.bench lifter --device cuda --set steps=2000 --set n_train=10000 --set "settings=[full]" > "$OUT/lifter.jsonl"
step rounds;        timeout 100 $PY -m dalnb.bench rounds --device cuda --set preset=smoke --set work_dir="$OUT/bench_rounds" > "$OUT/rounds.jsonl"
step full-smoke;    timeout 150 $PY -m dalnb.pipeline --preset full --run-dir "$OUT/run_full_smoke" --reports "$OUT/reports" \
    --override data.n_train=2000 --override data.n_test=200 --override lifter.steps=2000 --override registration.n_study=100 \
    --override rounds.rounds=2 --override rounds.epochs_per_round=2 --override rounds.n_eval=200 --override ablations.n=100 \
    > "$OUT/full_smoke.log" 2>&1
step done
rm -rf "$OUT/bench_rounds" "$OUT/run_full_smoke/rounds" "$OUT/run_full_smoke/data"   # keep the reports, not the bulk
cat "$OUT"/*.jsonl | cut -c1-220
