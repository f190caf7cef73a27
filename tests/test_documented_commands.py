"""Every Python command that README.md, docs/ and benchmarks/ document (`python path/to/script.py ...` and
`python -m module ...`) runs from the repository root as written: each one's `--help` exits 0 and prints its
usage, with no PYTHONPATH set (scripts put the repository root on sys.path themselves, as experiments/*.py do)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "benchmarks").glob("*.md"))]
COMMAND = re.compile(r"\bpython3? (-m [A-Za-z_][\w.]*|[\w./-]+\.py)")
NOT_OURS = {"-m pytest", "-m pip", "-m venv"}


def _documented():
    found = set()
    for doc in DOCS:
        found.update(m.group(1) for m in COMMAND.finditer(doc.read_text()))
    return sorted(found - NOT_OURS)


COMMANDS = _documented()


def test_the_docs_document_commands():
    assert "experiments/train.py" in COMMANDS and len(COMMANDS) >= 10, COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_documented_command_runs_from_the_repository_root(command):
    assert command.startswith("-m") or (ROOT / command).is_file(), f"expected {command} to exist"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, *command.split(), "--help"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0 and "usage:" in out.stdout, \
        f"expected `python {command} --help` to print its usage, got exit {out.returncode}:\n{out.stderr[-2000:]}"
