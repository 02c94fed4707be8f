"""Render a pytest-benchmark JSON file into ``docs/benchmarks.md`` and a bar chart.

    python benchmarks/report.py benchmarks/results/cpu-2core.json [more.json ...]

One table per workload (all backends side by side) with the time, the
speed-up against the PyTorch-native or scikit-learn peer, and what each
result reached (objective, iterations, memory), then the performance bars
checked as ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _load(paths: list[Path]) -> list[dict[str, Any]]:
    runs = []
    for p in paths:
        data = json.loads(p.read_text())
        runs.append({"path": p, "machine": data.get("machine_info", {}),
                     "commit": data.get("commit_info", {}), "datetime": data.get("datetime"),
                     "benchmarks": data["benchmarks"]})
    return runs


def _peer(group: str, names: set[str]) -> str | None:
    if group.startswith("step"):
        for cand in ("torch:cuda-native", "torch-native"):
            if cand in names and ("n=1000000" in group) == ("cuda" in cand):
                return cand
    if group.startswith("fit"):
        return "sklearn" if "sklearn" in names else None
    if group.startswith("l1 fit"):
        return "sklearn-saga" if "sklearn-saga" in names else None
    if group.startswith("cv"):
        return "sklearn-cv" if "sklearn-cv" in names else None
    if group.startswith("dask"):
        return "numpy" if "numpy" in names else None
    if group.startswith("small fit"):
        return "sklearn" if "sklearn" in names else None
    if group.startswith("text"):
        return "sklearn" if "sklearn" in names else None
    if group.startswith("sgd"):
        return "numpy-C" if "numpy-C" in names else None
    return None


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 10 else f"{seconds:.3g} s"


def _machine(run: dict[str, Any]) -> str:
    m = run["machine"]
    cpu = m.get("cpu", {})
    brand = cpu.get("brand_raw") or cpu.get("brand") or m.get("processor") or "unknown CPU"
    cores = cpu.get("count", "?")
    return (f"{brand}, {cores} cores, {m.get('system', '')} {m.get('release', '')}, "
            f"Python {m.get('python_version', '')}; run {run['datetime']}, "
            f"commit {run['commit'].get('id', '?')[:10]}")


def _bars(by_group: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    lines = []

    def t(group_prefix: str, name: str, stat: str = "median") -> tuple[float, str] | None:
        for g, rows in by_group.items():
            if g.startswith(group_prefix) and name in rows:
                return rows[name]["stats"][stat], g
        return None

    step = "step n=200000 d=100 C=10"
    ours, peer, floor = t(step, "numpy"), t(step, "torch-native"), t(step, "numpy-matmuls")
    fast = {k: t(step, k, "min") for k in ("numpy", "torch-native", "numpy-matmuls")}
    if ours and peer:
        r = peer[0] / ours[0]
        r_min = fast["torch-native"][0] / fast["numpy"][0]
        lines.append(f"| CPU step, NumPy vs PyTorch native autograd | >= 2x faster | "
                     f"{r:.2f}x faster (fastest rounds: {r_min:.2f}x) | "
                     f"{'met' if r >= 2 else 'not met'} |")
    if ours and floor:
        r = ours[0] / floor[0]
        r_min = fast["numpy"][0] / fast["numpy-matmuls"][0]
        lines.append(f"| CPU step vs its two matrix products alone | <= 1.25x | {r:.2f}x "
                     f"(fastest rounds: {r_min:.2f}x) | {'met' if r <= 1.25 else 'not met'} |")
    for g, rows in by_group.items():  # Dask: per iteration on 2 workers vs one process
        two, one = rows.get("dask-2workers", {}), rows.get("numpy", {})
        if g.startswith("dask") and "per_iteration_s" in two.get("extra_info", {}) \
                and "per_iteration_s" in one.get("extra_info", {}):
            r = two["extra_info"]["per_iteration_s"] / one["extra_info"]["per_iteration_s"]
            lines.append(f"| Dask L-BFGS iteration on 2 workers vs one NumPy process | <= 2x "
                         f"the time | {r:.2f}x ({_ms(two['extra_info']['per_iteration_s'])} "
                         f"vs {_ms(one['extra_info']['per_iteration_s'])}) | "
                         f"{'met' if r <= 2 else 'not met'} |")
    for g, rows in by_group.items():  # whole fits on small data, same objective
        if g.startswith("small fit") and "numpy" in rows and "sklearn" in rows:
            limit = 0.7 if "two-class" in g else 1.0
            r = rows["numpy"]["stats"]["median"] / rows["sklearn"]["stats"]["median"]
            its = (rows["numpy"]["extra_info"]["n_iter"], rows["sklearn"]["extra_info"]["n_iter"])
            lines.append(f"| {g[len('small fit '):]}: fit vs scikit-learn, same objective | "
                         f"<= {limit}x the time | {r:.2f}x ({its[0]} vs {its[1]} iterations) | "
                         f"{'met' if r <= limit else 'not met'} |")
    fit = "fit n=200000"
    f_ours, f_sk = t(fit, "numpy"), t(fit, "sklearn")
    if f_ours and f_sk:
        rows = by_group[f_ours[1]]
        o1 = rows["numpy"]["extra_info"]["objective"]
        o2 = rows["sklearn"]["extra_info"]["objective"]
        rel = (o1 - o2) / abs(o2)
        r = f_ours[0] / f_sk[0]
        ok = r <= 0.5 and rel <= 1e-6
        lines.append(f"| CPU fit (lbfgs) vs scikit-learn, same objective | <= 0.5x the time, "
                     f"objective within 1e-6 | {r:.2f}x the time, objective {rel:+.1e} "
                     f"relative | {'met' if ok else 'not met'} |")
    for prefix, peer, what, bar in (("l1 fit", "sklearn-saga", "CPU L1 fit (OWL-QN) vs "
                                     "scikit-learn SAGA, same objective", 0.2),
                                    ("cv", "sklearn-cv", "CPU SoftmaxRegressionCV vs "
                                     "LogisticRegressionCV, same C_", 0.5)):
        ours, theirs = t(prefix, "numpy"), t(prefix, peer)
        if ours and theirs:
            rows = by_group[ours[1]]
            r = ours[0] / theirs[0]
            r_min = t(prefix, "numpy", "min")[0] / t(prefix, peer, "min")[0]
            info, peer_info = rows["numpy"]["extra_info"], rows[peer]["extra_info"]
            if "objective_gap" in info:
                same = max(info["objective_gap"], peer_info["objective_gap"]) <= 1e-6
                got = (f"{r:.3f}x the time (fastest rounds: {r_min:.3f}x); gaps to the "
                       f"optimum {info['objective_gap']:+.1e} (ours) and "
                       f"{peer_info['objective_gap']:+.1e}")
            else:
                same = info.get("C_") == peer_info.get("C_")
                got = (f"{r:.3f}x the time (fastest rounds: {r_min:.3f}x); C_ "
                       f"{info.get('C_'):.4g} and {peer_info.get('C_'):.4g}")
            lines.append(f"| {what} | <= {bar}x the time | {got} | "
                         f"{'met' if r <= bar and same else 'not met'} |")
    for g, rows in by_group.items():
        if g.startswith("memory") and "numpy" in rows:
            ratio = rows["numpy"]["extra_info"]["peak_over_x"]
            lines.append(f"| extra peak memory of loss_and_grad (NumPy) | < 0.5 x size of X | "
                         f"{ratio:.3f} x | {'met' if ratio < 0.5 else 'not met'} |")
    for g, rows in by_group.items():
        if g.startswith("sgd") and "numpy-C" in rows:
            base = rows["numpy-C"]["stats"]["median"]
            for name in ("numpy-F", "pandas"):
                if name in rows:
                    r = rows[name]["stats"]["median"] / base
                    lines.append(f"| sgd epochs on {name} vs C-ordered NumPy | <= 1.2x | "
                                 f"{r:.2f}x | {'met' if r <= 1.2 else 'not met'} |")
    gpu = "step n=1000000 d=256 C=10"
    for lib in ("torch:cuda", "cupy"):
        res = t(gpu, lib)
        if res:
            ok = res[0] <= 1.1e-3
            floor = t(gpu, f"{lib}-matmuls")
            vs = f" ({res[0] / floor[0]:.2f}x its two matrix products)" if floor else ""
            lines.append(f"| GPU step on {lib} at (1000000, 256, 10) | <= 1.1 ms | "
                         f"{_ms(res[0])}{vs} | {'met' if ok else 'not met'} |")
    tc, cp = t(gpu, "torch:cuda"), t(gpu, "cupy")
    if tc and cp:
        r = cp[0] / tc[0]
        lines.append(f"| GPU step, CuPy vs torch:cuda | <= 1.2x | {r:.2f}x | "
                     f"{'met' if r <= 1.2 else 'not met'} |")
    ours, peer = t("fit n=200000", "torch:cuda"), t("fit n=200000", "torch:cuda-lbfgs")
    if ours and peer:
        r = ours[0] / peer[0]
        lines.append(f"| GPU fit (lbfgs) vs torch.optim.LBFGS, same objective | <= 1.0x the "
                     f"time | {r:.2f}x | {'met' if r <= 1.0 else 'not met'} |")
    text = next((g for g in by_group if g.startswith("text")), None)
    if text and "numpy" in by_group[text] and "sklearn" in by_group[text]:
        rows = by_group[text]
        r = rows["numpy"]["stats"]["median"] / rows["sklearn"]["stats"]["median"]
        lines.append(f"| sparse text fit (TF-IDF, lbfgs) vs scikit-learn, same objective | "
                     f"<= 0.5x the time | {r:.2f}x | {'met' if r <= 0.5 else 'not met'} |")
    for g, rows in by_group.items():
        if g.startswith("sparse memory") and "numpy" in rows:
            info = rows["numpy"]["extra_info"]
            lines.append(f"| sparse memory, one loss_and_grad / the matrix's storage | < 3x | "
                         f"{info['step_over_storage']:.2f}x | "
                         f"{'met' if info['step_over_storage'] < 3 else 'not met'} |")
            # the fit: beyond the L-BFGS history (2 x 10 arrays of W's size) and 8 vectors
            # of the (n + d) x C temporaries' size (parameters, gradients, direction, trial)
            rest = (info["fit_peak_bytes"] - info["solver_state_bytes"]
                    - 8 * info["temporaries_bytes"]) / info["storage_bytes"]
            lines.append(f"| sparse memory, an lbfgs fit less its history and 8 (n + d) x C "
                         f"vectors / storage | < 3x | {rest:.2f}x | "
                         f"{'met' if rest < 3 else 'not met'} |")
    return lines


def _grid(by_group: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """One row per grid shape: each bar's ratio of medians, and whether it is met."""
    def ratio(rows: dict[str, Any], a: str, b: str) -> float | None:
        if a in rows and b in rows:
            return rows[a]["stats"]["median"] / rows[b]["stats"]["median"]
        return None

    bars = [("numpy", "torch-native", "NumPy / torch autograd", 1 / 1.5),
            ("torch", "torch-native", "torch (ours) / torch autograd", 1.0),
            ("jax-jit", "jax-grad-jit", "JAX jit (ours) / jax.grad+jit", 1.0),
            ("numpy", "numpy-matmuls", "NumPy / its two GEMMs", 1.3)]
    lines = ["| shape (n, d, C) | " + " | ".join(f"{t} (<= {lim:.2f})" for *_, t, lim in bars)
             + " |", "|---" * (len(bars) + 1) + "|"]
    met = total = 0
    for group, rows in by_group.items():
        if not group.startswith("grid"):
            continue
        cells = []
        for a, b, _, limit in bars:
            r = ratio(rows, a, b)
            if r is None:
                cells.append("-")
                continue
            total += 1
            met += r <= limit
            cells.append(f"{r:.2f} {'met' if r <= limit else 'not met'}")
        lines.append(f"| {group.removeprefix('grid ')} | " + " | ".join(cells) + " |")
    if not total:
        return []
    return ["### Shape grid: ratios of medians per shape", "",
            f"{met} of {total} bars met. A ratio below 1 means softmaxreg is faster.", "",
            *lines, ""]


def render(paths: list[Path], out_md: Path, out_png: Path) -> str:
    runs = _load(paths)
    md = ["# Benchmarks", "",
          "Produced by the benchmark suite in `benchmarks/` and rendered by "
          "`benchmarks/report.py`. Times are medians of several rounds; every ratio compares "
          "results measured side by side in the same run on the same machine, and a bar is "
          "judged on medians. The machine is shared: repeated runs move the step ratios by "
          "about 20%, so the ratio of the fastest rounds is shown beside the medians. Each "
          "run's section names the commit it measured: changes made after it are not in its "
          "figures (the GPU run, from `benchmarks/gpu_check.sh`, predates the fused GPU "
          "kernels and GPU sparse support; no GPU has measured those yet).", "",
          "```bash",
          "python -m pytest benchmarks --benchmark-enable "
          "--benchmark-json=benchmarks/results/cpu-2core.json",
          "python benchmarks/report.py benchmarks/results/cpu-2core.json "
          "benchmarks/results/cpu-2core-layouts.json benchmarks/results/cpu-2core-sparse.json "
          "benchmarks/results/cpu-2core-dropin.json benchmarks/results/cpu-2core-grid.json "
          "benchmarks/results/cpu-2core-small.json benchmarks/results/cpu-2core-dask.json "
          "benchmarks/results/gpu-NVIDIA-H200.json",
          "```", ""]
    charts = []
    for run in runs:
        md += [f"## {run['path'].name}", "", f"Machine: {_machine(run)}", ""]
        by_group: dict[str, dict[str, dict[str, Any]]] = {}
        for b in run["benchmarks"]:
            name = (b["params"] or {}).get("backend") or b["extra_info"]["backend"]
            by_group.setdefault(b["group"], {})[name] = b
        bars = _bars(by_group)
        if bars:
            md += ["### Performance bars", "", "| bar | target | measured | |",
                   "| --- | --- | --- | --- |", *bars, ""]
        md += _grid(by_group)
        for group, rows in by_group.items():
            peer = _peer(group, set(rows))
            md += [f"### {group}", ""]
            head = "| backend | median | mean ± std | speed-up vs " + (peer or "-") + " | notes |"
            md += [head, "| --- | --- | --- | --- | --- |"]
            ordered = sorted(rows.items(), key=lambda kv: kv[1]["stats"]["median"])
            for name, b in ordered:
                s = b["stats"]
                speed = "" if not peer else f"{rows[peer]['stats']['median'] / s['median']:.2f}x"
                notes = []
                info = b.get("extra_info", {})
                if "objective" in info:
                    notes.append(f"objective {info['objective']:.10f}")
                if "n_iter" in info:
                    notes.append(f"{info['n_iter']} iterations")
                if "zeros" in info:
                    notes.append(f"{info['zeros']:.0%} of the weights zero")
                if "C_" in info:
                    notes.append(f"C_ = {info['C_']:.4g}")
                if "peak_over_x" in info:
                    notes.append(f"extra peak {info['peak_over_x']:.3f} x size of X")
                if group.startswith("dask") and "per_iteration_s" in info:
                    notes.append(f"{_ms(info['per_iteration_s'])} per iteration (a fit of "
                                 f"{info['n_iter']} iterations less one of 1)")
                elif group.startswith("dask") and info.get("n_iter"):
                    notes.append(f"{_ms(s['median'] / info['n_iter'])} per iteration")
                md.append(f"| {name} | {_ms(s['median'])} | {_ms(s['mean'])} ± "
                          f"{_ms(s['stddev'])} | {speed} | {'; '.join(notes)} |")
            md.append("")
            charts.append((f"{run['path'].stem}: {group}", ordered, peer))
    if not any("n=1000000" in b["group"] for run in runs for b in run["benchmarks"]):
        md += ["## GPU", "",
               "No GPU result is in this report: the machine that produced it has no GPU. "
               "`benchmarks/gpu_check.sh` runs the GPU tests and the GPU `step` and `fit` "
               "benchmarks on a machine with one and saves "
               "`benchmarks/results/gpu-<card>.json`; rendering it together with the CPU "
               "file adds its tables and bars (GPU step at most 1.1 ms at "
               "(1000000, 256, 10), fit no slower than `torch.optim.LBFGS`) here.", ""]
    md += ["![benchmark medians](img/benchmarks.png)", ""]
    _chart(charts, out_png)
    text = "\n".join(md)
    out_md.write_text(text)
    return text


def _is_peer(name: str) -> bool:
    """Peers and floors, drawn grey: everything that is not softmaxreg itself."""
    return name.startswith("sklearn") or name.endswith(("-native", "-matmuls", "-lbfgs",
                                                        "-grad-jit"))


def _chart(charts: list[tuple[str, list[Any], str | None]], path: Path) -> None:
    from matplotlib.figure import Figure

    charts = [c for c in charts if not c[0].split(": ", 1)[1].startswith("memory")]
    if not charts:
        return
    fig = Figure(figsize=(9, 2.2 + 1.6 * len(charts)), layout="constrained")
    axes = fig.subplots(len(charts), 1, squeeze=False)[:, 0]
    for ax, (title, rows, _) in zip(axes, charts, strict=True):
        names = [n for n, _ in rows]
        vals = [b["stats"]["median"] * 1e3 for _, b in rows]
        colors = ["tab:gray" if _is_peer(n) else "tab:blue" for n in names]
        ax.barh(names, vals, color=colors)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("median time (ms, log scale); grey: peers and floors", fontsize=8)
        ax.tick_params(labelsize=8)
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:.3g}", va="center", fontsize=7)
        ax.set_xlim(min(vals) / 2, max(vals) * 4 if math.isfinite(max(vals)) else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", type=Path, help="pytest-benchmark JSON files")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--png", type=Path, default=ROOT / "docs" / "img" / "benchmarks.png")
    args = p.parse_args(argv)
    render(args.results, args.out, args.png)
    print(f"wrote {args.out} and {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
