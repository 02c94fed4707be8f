"""Regenerate the pictures on the docs pages and in the README.

    python docs/make_figures.py [--out docs/img]

- ``decision_boundary.png`` and ``loss_curve.png`` come from ``softmaxreg demo``
  (default seed, NumPy), exactly as a user gets them;
- ``benchmarks.png`` and ``benchmarks.md`` are rendered from the committed
  benchmark results by ``benchmarks/report.py`` (with ``--benchmarks``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    p.add_argument("--benchmarks", action="store_true",
                   help="also re-render docs/benchmarks.md from benchmarks/results/*.json")
    args = p.parse_args(argv)
    from softmaxreg.cli import main as cli

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "demo"
        if cli(["demo", "--out", str(run), "--quiet"]) != 0:
            return 1
        for name in ("decision_boundary.png", "loss_curve.png"):
            shutil.copyfile(run / name, args.out / name)
    if args.benchmarks:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import report

        results = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
        report.render(results, ROOT / "docs" / "benchmarks.md", args.out / "benchmarks.png")
    print(f"wrote figures to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
