#!/usr/bin/env bash
# The GPU check, in one run of about seven minutes on a machine with one NVIDIA GPU
# that already has torch, CuPy, JAX, scikit-learn, pytest, hypothesis and pytest-benchmark.
# Pure-Python packages it may lack (array-api-compat, array-api-strict,
# array-api-extra) are installed from wheels in ./.whl (or ./wheels) when there:
#   pip download --no-deps -d .whl array-api-compat array-api-strict array-api-extra
# Results: benchmarks/results/gpu-<card>.json, and logs, under $OUT when set.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
for d in .whl wheels; do
  if [ -d "$d" ]; then python3 -m pip install -q --no-deps --no-index "$d"/*.whl; fi
done
card=$(python3 -c "import torch; print(torch.cuda.get_device_name(0).replace(' ', '-'))")
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, cupy, jax, numpy, sklearn, scipy; print('torch', torch.__version__, 'cupy', cupy.__version__, 'jax', jax.__version__, jax.devices(), 'numpy', numpy.__version__, 'sklearn', sklearn.__version__, 'scipy', scipy.__version__)"
} 2>&1 | tee "$out/gpu-env.txt"
# 1. GPU-marked tests: torch:cuda and cupy, dense and sparse (the `bk`/`sbk` fixtures)
SOFTMAXREG_BACKENDS=torch:cuda,cupy timeout 120 python3 -m pytest tests -q -m gpu \
  -p no:randomly 2>&1 | tee "$out/gpu-tests.log" | tail -25
# 2. step and fit benchmarks on the GPU backends (JAX runs on the GPU there by default)
timeout 150 python3 -m pytest benchmarks/bench_step.py benchmarks/bench_fit.py \
  --benchmark-enable -q -k "cuda or cupy or jax" \
  --benchmark-json="benchmarks/results/gpu-${card}.json" 2>&1 | tee "$out/gpu-bench.log" | tail -40
cp "benchmarks/results/gpu-${card}.json" "$out/" || true
# 3. the core and the estimator on JAX's GPU device
SOFTMAXREG_BACKENDS=jax timeout 70 python3 -m pytest tests/test_functional.py \
  tests/test_estimator.py -q -p no:randomly 2>&1 | tee "$out/gpu-jax-tests.log" | tail -15
# 4. sparse text on torch:cuda and CuPy (their CSR), beside NumPy and scikit-learn
timeout 100 python3 -m pytest benchmarks/bench_sparse.py --benchmark-enable -q \
  -k "text_fit and (cuda or cupy or numpy or sklearn)" \
  --benchmark-json="benchmarks/results/gpu-${card}-sparse.json" 2>&1 \
  | tee "$out/gpu-sparse.log" | tail -20
cp "benchmarks/results/gpu-${card}-sparse.json" "$out/" || true
