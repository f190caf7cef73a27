"""No file of the repository names a machine-specific absolute path (a home, the CI's or a developer's
checkout folder): scripts and docs work from any clone."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MACHINE_PATHS = re.compile(r"(?<![\w.])/(?:root|home/\w+|work|Users/\w+)/")


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_no_machine_specific_absolute_paths():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for name in files:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".sh", ".toml", ".txt", ".cfg", ".in", ""} or not path.is_file():
            continue
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if MACHINE_PATHS.search(line) and name != "tests/test_repository_paths.py":
                found.append(f"{name}:{i}: {line.strip()[:120]}")
    assert not found, "expected paths relative to the checkout, got:\n" + "\n".join(found)
