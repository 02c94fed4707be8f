#!/usr/bin/env bash
# The GPU check, in one run of under five minutes on a machine with one NVIDIA GPU
# that already has torch, CuPy, JAX, pytest, hypothesis and pytest-benchmark.
# Pure-Python packages it may lack (array-api-compat, array-api-strict,
# array-api-extra) are installed from wheels in ./wheels when that folder exists:
#   pip download --no-deps -d wheels array-api-compat array-api-strict array-api-extra
# Results: benchmarks/results/gpu-<card>.json (and a copy under $OUT when set).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d wheels ]; then python -m pip install -q --no-deps --no-index wheels/*.whl; fi
python -m pip install -q --no-deps --no-build-isolation -e . || true
card=$(python -c "import torch; print(torch.cuda.get_device_name(0).replace(' ', '-'))")
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
# GPU-marked tests only: torch:cuda and cupy through the `bk` fixture
SOFTMAXREG_BACKENDS=torch:cuda,cupy timeout 150 python -m pytest tests -q -m gpu \
  -p no:randomly -x || echo "GPU tests failed"
# GPU step (both GPU workloads) and fit benchmarks, timed
timeout 150 python -m pytest benchmarks/bench_step.py benchmarks/bench_fit.py \
  --benchmark-enable -q -k "cuda or cupy" \
  --benchmark-json="benchmarks/results/gpu-${card}.json" || echo "GPU benchmarks failed"
if [ -n "${OUT:-}" ]; then cp "benchmarks/results/gpu-${card}.json" "$OUT/"; fi
python benchmarks/report.py benchmarks/results/cpu-2core.json "benchmarks/results/gpu-${card}.json" \
  --out "${OUT:-/tmp}/benchmarks.md" --png "${OUT:-/tmp}/benchmarks.png"
