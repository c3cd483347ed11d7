#!/usr/bin/env bash
# On one NVIDIA GPU (H100 or H200 class): every GPU benchmark and a smoke run of the `full`
# preset, within 8 minutes (the timeouts below add up to 480 s). Uses .venv when present, else
# the bundle of scripts/device_bundle.sh (.devsite/) on a machine that has torch only. Results go
# to $OUT (default ./gpu_results) as JSON lines, each naming the card.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-gpu_results}
mkdir -p "$OUT"
if [ ! -x "$PY" ] && [ -f .devsite/site.tar.xz ]; then
    # A bare machine with torch but without our other packages: the bundle made by
    # scripts/device_bundle.sh (anny, the notebook stack, the cached template).
    mkdir -p /tmp/dalnb_site && tar -xJf .devsite/site.tar.xz -C /tmp/dalnb_site
    export PYTHONPATH=/tmp/dalnb_site:$PWD JUPYTER_PATH=/tmp/dalnb_site/share/jupyter DALNB_CACHE_DIR=$PWD/.devsite/dalnb_cache
    PY=python3
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
$PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, torch.cuda.get_device_name(0))" | tee -a "$OUT/gpu.txt"
# anny's own cache (~800 MB, ~1 min to build on first use): built before the clock starts.
timeout 100 $PY -c "from dalnb.body.template import load_anny_model; load_anny_model()" 2>&1 | grep -v -i warn | tail -2
t0=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - t0 )) s)" | tee -a "$OUT/steps.txt"; }
# Sized from the recorded H200 runs (benchmarks/*.jsonl): the GPU benchmarks only (the synthetic
# generator is a CPU benchmark, recorded there; registration accuracy does not depend on the device), then the smoke.
step body;          timeout 40  $PY -m dalnb.bench body --device cuda --batches 1,64,1024,8192 > "$OUT/body.jsonl"
step registration;  timeout 60  $PY -m dalnb.bench registration --device cuda --set "kinds=[speed]" \
    --set "speed_batches=[1,4096]" --set "compile_modes=[false]" > "$OUT/registration.jsonl"
step predict;       timeout 45  $PY -m dalnb.bench predict --device cuda > "$OUT/predict.jsonl"
step lifter;        timeout 75  $PY -m dalnb.bench lifter --device cuda --set steps=2000 --set n_train=10000 --set "settings=[full]" > "$OUT/lifter.jsonl"
step rounds;        timeout 45  $PY -m dalnb.bench rounds --device cuda --set preset=full --set n_train=8192 --set n_test=500 \
    --set image_size=128 --set rounds=3 --set epochs_per_round=2 --set work_dir="$OUT/bench_rounds" > "$OUT/rounds.jsonl"
step full-smoke;    timeout 215 $PY -m dalnb.pipeline --preset full --run-dir "$OUT/run_full_smoke" --reports "$OUT/reports" \
    --override data.n_train=600 --override data.n_test=64 --override lifter.steps=1000 --override registration.n_study=32 \
    --override "body.bench_batches=[1,64,1024]" --override rounds.rounds=2 --override rounds.epochs_per_round=1 \
    --override rounds.n_eval=64 --override ablations.n=32 --override ablations.source_epochs=1 \
    > "$OUT/full_smoke.log" 2>&1
step done
rm -rf "$OUT/bench_rounds" "$OUT/run_full_smoke/rounds" "$OUT/run_full_smoke/data"   # keep the reports, not the bulk
cat "$OUT"/*.jsonl | cut -c1-220
tail -5 "$OUT/full_smoke.log"
if [ -n "${PACK:-}" ]; then   # two archives: the device tool brings back at most 8 files of at most 16 MB
    # the reports repeat three.js in every page: a solid xz archive stores it about once
    tar -cJf /tmp/gpu_reports.tar.xz -C "$OUT" reports run_full_smoke 2>/dev/null
    rm -rf "$OUT/reports" "$OUT/run_full_smoke"
    tar -czf /tmp/gpu_results.tar.gz -C "$OUT" . && rm -rf "${OUT:?}"/* && mv /tmp/gpu_results.tar.gz /tmp/gpu_reports.tar.xz "$OUT/"
fi
