"""Every example in the README and the docs runs, the CLI page's commands run, the site builds."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from softmaxreg import backends
from softmaxreg.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
# what a python example prints, one line per comment: `print(x)  # -> 0.97... float32`
OUTPUT = re.compile(r"#\s->\s(.*)$", re.M)
def checkout_env() -> dict[str, str]:
    """The environment for a subprocess that imports softmaxreg from this checkout, also
    where an editable install of another checkout comes first on the path."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


def blocks(path: Path, lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(path.read_text()) if kind == lang]


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "python")],
                         ids=lambda p: p.name)
def test_python_examples_run(page, tmp_path):
    """The blocks of one page, pasted into one script as a user would, run with
    ``python script.py`` in a scratch folder (so `if __name__ == "__main__":` guards
    and worker processes behave as they do for users), and print, line by line, what
    their `# -> ...` comments say."""
    code = [body for body in blocks(page, "python")
            if "# needs: cuda" not in body or "torch:cuda" in backends.available()]
    assert code
    script = tmp_path / f"{page.stem}_example.py"
    script.write_text("\n\n".join(code))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env=checkout_env())
    assert done.returncode == 0, done.stderr[-3000:]
    expected = [m.group(1) for body in code for m in OUTPUT.finditer(body)]
    printed = done.stdout.splitlines()
    assert len(printed) == len(expected), (
        f"{page.name}: every printed line needs a `# -> ...` comment saying what it prints;"
        f" printed {printed}, documented {expected}")
    for line, shown in zip(printed, expected, strict=True):
        assert prints(shown, line), f"{page.name} prints {line!r} where it says {shown!r}"


def prints(shown: str, line: str) -> bool:
    """Whether ``line`` is what a ``# -> shown`` comment documents: ``shown`` up to two
    spaces and a parenthesised remark, ``...`` matching anything (as doctest's ELLIPSIS)."""
    shown = re.sub(r"\s{2,}\(.*\)$", "", shown).rstrip()
    pattern = ".*".join(re.escape(part) for part in shown.split("..."))
    return re.fullmatch(pattern, line.rstrip()) is not None


def test_documented_output_is_matched_exactly():
    assert prints("True  (the same optimum)", "True")
    assert prints("Array 1.386294361119...  (log 4)", "Array 1.3862943611198908")
    assert prints("[nan nan  0.]", "[nan nan  0.]")
    assert not prints("True", "False")
    assert not prints("Array 1.386294361119...", "Array 1.3862")
    assert not prints("(4, 2)", "(4, 2, 1)")


def test_cli_page_commands_run(tmp_path, monkeypatch, capsys):
    """Each command on docs/cli.md, in order; the ones marked so exit with status 2."""
    monkeypatch.chdir(tmp_path)
    for code in blocks(ROOT / "docs" / "cli.md", "bash"):
        for line in code.splitlines():
            expect = 2 if "exits with status 2" in line else 0
            cmd = shlex.split(line.split("  #")[0])
            if not cmd:
                continue
            if cmd[0] == "softmaxreg" and "<" in cmd:  # `softmaxreg ... < FILE`: FILE on stdin
                with open(cmd[cmd.index("<") + 1]) as stdin, monkeypatch.context() as m:
                    m.setattr(sys, "stdin", stdin)
                    assert cli(cmd[1:cmd.index("<")]) == expect, line
            elif cmd[0] == "softmaxreg":
                assert cli(cmd[1:]) == expect, line
            elif cmd[:2] == ["python", "-c"]:
                subprocess.run([sys.executable, "-c", cmd[2]], check=True, timeout=60,
                               env=checkout_env())
            else:
                pytest.fail(f"docs/cli.md runs an unknown command: {line}")
    out = capsys.readouterr().out
    assert "the probability that you have a benign tumour is" in out


def test_figures_script(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "make_figures.py"), "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=120,
                          env=checkout_env())
    assert done.returncode == 0, done.stderr
    for name in ("decision_boundary.png", "loss_curve.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_site_builds_strictly(tmp_path):
    import importlib.util

    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (it comes with the `docs` and `test` extras)")
    # through this interpreter: a console script may not be on PATH (pyenv shims, venvs)
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                           str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**checkout_env(), "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "math" / "index.html").exists()
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "loss_and_grad" in api and "SoftmaxRegression" in api


def test_ci_runs_the_readme_test_command():
    """.ci/run runs exactly the README's test command, and that command installs
    through the committed constraints file, which pins every test dependency."""
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(line for body in blocks(ROOT / "README.md", "bash")
                   for line in body.splitlines() if "python -m pytest" in line
                   and "pip install" in line)
    assert command in ci.splitlines()
    assert "-c requirements/constraints.txt" in command
    pins = {line.split("==")[0].lower().replace("_", "-")
            for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#")}
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["test"]
    wanted = {re.split(r"[\[<>=!~ ]", req, maxsplit=1)[0].lower().replace("_", "-")
              for req in test_extra}
    assert wanted <= pins, f"not pinned: {sorted(wanted - pins)}"
    assert command in (ROOT / "docs" / "index.md").read_text()
    assert "test-latest.sh" in readme
