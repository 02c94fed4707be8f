"""No process-wide side effects: the BLAS thread count is the user's after every call,
and the worker count follows the CPUs this process may really use."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import softmaxreg as sr
import softmaxreg._kernel as K

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"]


def test_concurrent_calls_leave_the_blas_thread_count_alone(monkeypatch):
    """Nested threadpoolctl limits restored out of order left BLAS at 1 thread."""
    if not blas_threads():
        pytest.skip("threadpoolctl finds no BLAS library to inspect")
    monkeypatch.setattr(K, "BLOCK_ROWS", 512)
    monkeypatch.setattr(K, "CPU_THREADS", 2)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 20))
    y = rng.integers(0, 5, size=6000)
    W, b = np.zeros((20, 5)), np.zeros(5)
    expected = sr.loss_and_grad(X, y, W, b)
    before = blas_threads()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            for _ in range(30):
                got = sr.loss_and_grad(X, y, W, b)
                np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = blas_threads()
    if after != before:  # leave the process as it was for the tests that follow
        threadpoolctl.threadpool_limits(limits=max(before), user_api="blas")
    assert not errors, errors
    assert after == before


def test_worker_count_follows_cpu_affinity():
    """`taskset -c 0` still got one worker per core of the machine."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("this platform has no CPU affinity")
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "import softmaxreg._kernel as K; print(K.cpu_workers())")
    env = {k: v for k, v in os.environ.items() if k != "SOFTMAXREG_CPU_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, timeout=60).stdout
    assert out.strip() == "1"


@pytest.mark.parametrize(("folders", "expected"), [
    ([{"cpu.max": "150000 100000\n"}], 2),  # cgroup v2: 1.5 CPUs, rounded up
    ([{"cpu.max": "400000 100000\n"}], 4),  # more than this machine has: still read
    ([{"cpu.max": "max 100000\n"}, {"cpu.max": "100000 100000\n"}], None),  # v2 decides
    ([{"cpu.max": ""}, {"cpu.max": "200000 100000\n"}], 2),  # an empty file: look on
    ([{"cpu.max": "x 100000\n"}, {"cpu.max": "300000 100000\n"}], 3),  # unreadable
    ([{"cpu.max": "100000\n"}, {"cpu.max": "300000 100000\n"}], 3),  # no period
    ([{}, {"cpu.cfs_quota_us": "300000\n", "cpu.cfs_period_us": "100000\n"}], 3),  # v1
    ([{"cpu.cfs_quota_us": "x\n", "cpu.cfs_period_us": "100000\n"},
      {"cpu.cfs_quota_us": "200000\n", "cpu.cfs_period_us": "100000\n"}], 2),
    ([{"cpu.cfs_quota_us": "250000\n"}, {"cpu.max": "500000 100000\n"}], 5),  # no period
    ([{"cpu.cfs_quota_us": "1\n", "cpu.cfs_period_us": "100000\n"}], 1),  # 1 us of 100 ms
    ([{"cpu.cfs_quota_us": "3\n", "cpu.cfs_period_us": "1\n"}], 3),
    ([{"cpu.cfs_quota_us": "100000\n", "cpu.cfs_period_us": "0\n"}], None),
    ([{"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n"},
      {"cpu.max": "200000 100000\n"}], None),  # v1 without a quota decides
    ([{}, {}], None),
])
def test_cgroup_quota_is_read_from_the_first_folder_that_has_one(tmp_path, monkeypatch,
                                                                 folders, expected):
    """The quota in CPUs (rounded up) from the first of ``CGROUP_DIRS`` that states one;
    missing or unreadable files send the search on to the next folder."""
    dirs = []
    for i, files in enumerate(folders):
        dirs.append(tmp_path / str(i))
        dirs[-1].mkdir()
        for name, text in files.items():
            (dirs[-1] / name).write_text(text)
    monkeypatch.setattr(K, "CGROUP_DIRS", tuple(dirs))
    assert K._cgroup_cpu_quota() == expected


@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "150000 100000\n"}, 2),  # cgroup v2: 1.5 CPUs -> 2 workers
    ({"cpu.max": "50000 100000\n"}, 1),
    ({"cpu.max": "max 100000\n"}, None),  # no quota: the affinity decides
    ({"cpu.cfs_quota_us": "100000\n", "cpu.cfs_period_us": "100000\n"}, 1),  # cgroup v1
    ({"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_worker_count_follows_the_cgroup_quota(tmp_path, monkeypatch, request, files,
                                              expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(K, "CGROUP_DIRS", (tmp_path,))
    monkeypatch.delenv("SOFTMAXREG_CPU_THREADS", raising=False)
    K.available_cpus.cache_clear()  # read once per process; this test changes the files
    request.addfinalizer(K.available_cpus.cache_clear)
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count()
    assert K.cpu_workers() == min(affinity, expected or affinity)


@pytest.mark.parametrize(("n", "workers", "sizes"), [
    (10_000, 2, [5000, 5000]),  # not 8192 and 1808: one thread would do 82% of the work
    (20_001, 2, [5001, 5001, 5001, 4998]),
    (20_000, 3, [6667, 6667, 6666]),
    (9_000, 4, [4500, 4500]),  # no more threads than cache-sized blocks
])
def test_threads_get_equal_blocks_no_larger_than_the_cache_sized_one(n, workers, sizes):
    from dataclasses import replace

    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 3))
    y = rng.integers(0, 2, size=n)
    W, b = rng.normal(size=(3, 2)), np.zeros(2)
    seen = []
    ops = K.ops_for(np, X, workers=workers)
    ops = replace(ops, rows=lambda X, s, e: seen.append(len(X[s:e])) or X[s:e])
    got = K.kernel(ops, X, y, W, b, l2=0.0, w=None)
    assert sorted(seen, reverse=True) == sizes and max(seen) <= K.BLOCK_ROWS
    want = K.kernel(K.ops_for(np, X, workers=1), X, y, W, b, l2=0.0, w=None)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-12)


def test_blocks_run_with_a_single_threaded_blas_and_without_threadpoolctl(monkeypatch):
    """Inside the worker threads the BLAS is limited to one thread (else its threads and
    ours oversubscribe the cores); without threadpoolctl the blocks run serially, to the
    same sums."""
    from dataclasses import replace

    if not blas_threads() or max(blas_threads()) < 2:
        pytest.skip("the BLAS here runs one thread anyway")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20_000, 4))
    y = rng.integers(0, 3, size=20_000)
    W, b = rng.normal(size=(4, 3)), np.zeros(3)
    seen = []

    def rows(X, s, e):
        seen.append((threading.current_thread().name, max(blas_threads())))
        return X[s:e]

    ops = replace(K.ops_for(np, X, workers=2), rows=rows)
    threaded = K.kernel(ops, X, y, W, b, l2=0.1, w=None)
    assert {n for _, n in seen} == {1}
    assert all(name.startswith("softmaxreg") for name, _ in seen)
    seen.clear()
    monkeypatch.setattr(K, "_blas_controller", lambda: None)
    serial = K.kernel(ops, X, y, W, b, l2=0.1, w=None)
    assert seen and {name for name, _ in seen} == {threading.current_thread().name}
    assert min(n for _, n in seen) >= 2  # this thread, the BLAS left as it is
    for s, r in zip(serial, threaded, strict=True):
        np.testing.assert_allclose(s, r, rtol=1e-12)
