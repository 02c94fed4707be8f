"""Progress of a command: loading a table, training epochs or iterations, Dask computations.

On a terminal a rich live display shows one bar per activity (with the loss and the
time left); when stdout is not a terminal (a pipe, a file, a CI log) plain lines come
instead, at most about one a second per activity; with ``quiet`` nothing at all.

The training lines come from the estimator's own ``verbose`` output (``solvers.Progress``
prints ``[SoftmaxRegression(adam)] iter   12  loss 0.25  val_loss 0.3  (0.4s)``):
:meth:`Reporter.fitting` reads those lines from stdout while a model trains, turns them
into the bar (or adds the time left to the plain line), and passes any other line on.
A line it cannot read is printed as it came.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["Reporter"]

#: one line of ``solvers.Progress``
_FIT_LINE = re.compile(r"^\[(?P<name>[^\]]+)\] iter\s+(?P<it>\d+)\s+loss (?P<loss>\S+)"
                       r"(?:\s+val_loss (?P<val>\S+))?\s+\((?P<secs>[\d.]+)s\)\s*$")


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover - the loop returns


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:02.0f}s"


class Reporter:
    """The progress display of one command, to ``stream`` (default: ``sys.stdout``).

    ``fancy``: a rich live display (default: when ``stream`` is a terminal and rich
    is installed); else plain lines. ``quiet``: nothing. ``interval``: seconds between
    two plain lines of one activity (the first and the last are always printed).
    """

    def __init__(self, stream: Any = None, *, quiet: bool = False, fancy: bool | None = None,
                 interval: float = 1.0):
        self.stream = stream if stream is not None else sys.stdout
        self.quiet = quiet
        self.interval = interval
        if fancy is None:
            fancy = bool(getattr(self.stream, "isatty", lambda: False)()) and _has_rich()
        self.fancy = fancy and not quiet
        self._live: Any = None
        self._tasks: dict[str, Any] = {}
        self._last: dict[str, float] = {}
        self._closing: list[Any] = []  # final lines, shown by stop()
        self._stopped = False

    # ---------------------------------------------------------------- the display

    def _progress(self) -> Any:
        if self._live is None:
            from rich.console import Console  # optional: the `workflow` extra
            from rich.progress import (  # optional: the `workflow` extra
                BarColumn,
                Progress,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            console = Console(file=self.stream, force_terminal=True)
            self._live = Progress(SpinnerColumn(), TextColumn("{task.description:<8}"),
                                  BarColumn(bar_width=24), TaskProgressColumn(),
                                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                  TextColumn("{task.fields[info]}"),
                                  console=console, redirect_stdout=False,
                                  redirect_stderr=False)
            self._live.start()
        return self._live

    def update(self, activity: str, done: float, total: float | None, info: str, *,
               final: bool = False) -> None:
        """Show ``done`` of ``total`` (None: unknown) for ``activity`` with a short ``info``."""
        if self.quiet or self._stopped:
            return
        if self.fancy:
            live = self._progress()
            if activity not in self._tasks:
                self._tasks[activity] = live.add_task(activity, total=total, info=info)
            live.update(self._tasks[activity], completed=done, total=total, info=info)
            return
        now = time.monotonic()
        if not final and now - self._last.get(activity, -float("inf")) < self.interval:
            return
        self._last[activity] = now
        print(f"{activity} {info}", file=self.stream, flush=True)

    def echo(self, line: str, out: Any = None) -> None:
        """Print ``line`` while the display may run: above the live bars, or to ``out``
        (default: the display's stream)."""
        if self._live is not None:
            self._live.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=self.stream if out is None else out, flush=True)

    def stop(self) -> None:
        """Show the final lines and end the display (its last state stays on screen):
        nothing is shown after; safe to call again."""
        for closing in self._closing:
            closing()
        self._closing.clear()
        self._stopped = True
        if self._live is not None:
            self._live.stop()
            self._live = None
            self._tasks.clear()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---------------------------------------------------------------- loading

    def loading(self, name: str) -> Any:
        """A callback ``(done, total, unit)`` for a table being read: ``unit`` is
        ``"bytes"`` or ``"rows"``, ``total`` None when unknown (standard input)."""
        start = time.monotonic()

        def report(done: int, total: int | None, unit: str, *, final: bool = False) -> None:
            if unit == "bytes":
                amount = f"{_size(done)}" + (f" of {_size(total)}" if total else "")
            else:
                amount = f"{done:,} rows" + (f" of {total:,}" if total else "")
            if self.fancy:  # the bar shows the share and the time
                self.update("loading", done, total, f"{name}: {amount}")
                return
            percent = f" ({100 * done / total:.0f}%)" if total else ""
            took = f" in {_duration(time.monotonic() - start)}" if final else ""
            self.update("loading", done, total, f"{name}: {amount}{percent}{took}", final=final)

        return report

    # ---------------------------------------------------------------- training

    @contextlib.contextmanager
    def fitting(self, max_iter: int, unit: str) -> Iterator[None]:
        """Read the estimator's iteration lines from stdout while a model trains; ``unit``
        is ``"epoch"`` or ``"iteration"``; ``max_iter`` gives the time left (an upper
        bound: early stopping and convergence end sooner)."""
        if self.quiet:
            yield
            return
        lines = _Lines(self, sys.stdout, max_iter, unit)
        previous, sys.stdout = sys.stdout, lines
        try:
            yield
        finally:
            lines.flush_partial()
            sys.stdout = previous
        if self.fancy and "training" in self._tasks and lines.last:  # stopped early: full bar
            self._live.update(self._tasks["training"], total=lines.last, completed=lines.last)

    def iteration(self, it: int, max_iter: int, unit: str, loss: str, val: str | None,
                  elapsed: float, line: str) -> None:
        left = elapsed / it * (max_iter - it) if it else 0.0
        if self.fancy:
            info = f"{unit} {it}/{max_iter}  loss {loss}" + (f"  val {val}" if val else "")
            self.update("training", it, max_iter, info)
            return
        if self.quiet:
            return
        # the estimator already spaces its lines out (verbose=1); add the time left once
        # there is a time to extrapolate from
        if elapsed > 0 and line.endswith(")"):
            line = f"{line[:-1]}, at most {_duration(left)} left)"
        print(line, file=self.stream, flush=True)

    # ---------------------------------------------------------------- Dask

    @contextlib.contextmanager
    def dask_tasks(self) -> Iterator[None]:
        """Count the tasks of every Dask computation on the local schedulers meanwhile
        (a dask.distributed cluster runs them elsewhere: its dashboard shows them)."""
        if self.quiet:
            yield
            return
        from dask.callbacks import Callback  # optional: the `dask` extra

        counts = {"computations": 0, "done": 0, "total": 0, "tasks": 0}
        start = time.monotonic()

        def start_state(dsk: Any, state: Any) -> None:
            counts["computations"] += 1
            counts["done"] = 0
            counts["total"] = sum(len(state[k]) for k in ("ready", "waiting", "running"))

        def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            counts["done"] += 1
            counts["tasks"] += 1
            self.update("dask", counts["done"], counts["total"] or None,
                        f"computation {counts['computations']}: {counts['done']} of "
                        f"{counts['total']} tasks")

        def summary() -> None:
            if counts["computations"]:
                self.update("dask", counts["done"], counts["total"] or None,
                            f"{counts['computations']} computations, {counts['tasks']} "
                            f"tasks in {_duration(time.monotonic() - start)}", final=True)

        self._closing.append(summary)
        with Callback(start_state=start_state, posttask=posttask):
            try:
                yield
            finally:
                self.stop()


class _Lines:
    """Stands in for stdout while a model trains: iteration lines go to the reporter,
    anything else to the real stdout."""

    def __init__(self, reporter: Reporter, out: Any, max_iter: int, unit: str):
        self.reporter, self.out, self.max_iter, self.unit = reporter, out, max_iter, unit
        self.partial = ""
        self.last = 0  # the last iteration seen

    def write(self, text: str) -> int:
        self.partial += text
        *lines, self.partial = self.partial.split("\n")
        for line in lines:
            match = _FIT_LINE.match(line)
            if match is None:
                self.reporter.echo(line, self.out)
                continue
            self.last = int(match["it"])
            self.reporter.iteration(self.last, self.max_iter, self.unit, match["loss"],
                                    match["val"], float(match["secs"]), line)
        return len(text)

    def flush_partial(self) -> None:
        if self.partial:
            self.out.write(self.partial)
            self.partial = ""

    def flush(self) -> None:
        self.out.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.out, name)


def _has_rich() -> bool:
    return importlib.util.find_spec("rich") is not None
