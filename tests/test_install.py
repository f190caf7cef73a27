"""A plain `pip install -e .` from a clean copy of the checkout, in a fresh venv that reuses the installed torch:
no torch is downloaded, the first `import dyconv` compiles the ops (one line says so), they match the
reference, and only the name `dyconv` is installed, so a user's own `models` package works next to it.
The same for a non-editable `pip install .`, which carries the C++ sources in the package, and `pip wheel .`,
whose wheel holds exactly what `pip install .` installed (pip installs through such a wheel).

The ahead-of-time path (`pip install --no-build-isolation -e .`) is the one .ci/run installs the suite with.
The venv sees this interpreter's site-packages (torch and the other dependencies) through a path file, which
adds them to sys.path without running their own .pth files: an editable install of another checkout on this
machine cannot leak into the test, and it works the same when the tests run in a virtual environment.
"""
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("git") is None or not os.path.exists(os.path.join(ROOT, ".git")),
                       reason="needs git and a git checkout (the clean copy is the files git tracks)"),
]

CHECK_OPS = """
import torch, dyconv
x = torch.randn(2, 3, 9, 10, dtype=torch.float64)
w = torch.randn(2, 4, 3, 3, 3, dtype=torch.float64)
scale, shift = torch.rand(2, 4, dtype=torch.float64) + 0.5, torch.randn(2, 4, dtype=torch.float64)
kw = dict(padding="same", dilation=2, norm="layer", activation="relu")
torch.testing.assert_close(dyconv.dynamic_conv_norm_act(x, w, scale, shift, **kw),
                           dyconv.reference.dynamic_conv_norm_act(x, w, scale, shift, **kw))
print("dyconv from", dyconv.__file__)
"""


def _install(tmp, target):
    """(clone, venv python, env, pip output) after `pip install <target>` from a clean copy in a fresh venv."""
    clone = tmp / "clone"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        if os.path.isfile(os.path.join(ROOT, f)):  # not files deleted in the working tree
            (clone / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), clone / f)
    assert not list(clone.glob("dyconv/_C*")), "the clean copy must hold no prebuilt extension"
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    venv_site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(venv_site, "_outer_site_packages.pth"), "w") as f:  # torch and the other dependencies
        f.write("\n".join(p for p in sys.path if p.endswith("-packages")) + "\n")
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp / "torch_extensions")}
    env.pop("PYTHONPATH", None)
    pip = subprocess.run([python, "-m", "pip", "install", *target], cwd=clone, env=env, capture_output=True,
                         text=True, timeout=900)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    return clone, python, env, pip.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return _install(tmp_path_factory.mktemp("install"), ["-e", "."])


@pytest.fixture(scope="module")
def installed_copy(tmp_path_factory):
    return _install(tmp_path_factory.mktemp("install_copy"), ["."])


def vpython(installed, code, cwd):
    """Run ``code`` with the venv's Python in ``cwd``."""
    _, python, env, _ = installed
    return subprocess.run([python, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def test_pip_install_e_downloads_no_torch_and_installs_only_dyconv(installed, tmp_path):
    log = installed[3]
    assert not re.search(r"^\s*(Collecting|Downloading|Using cached) torch\b", log, re.M), log
    installed_line = next(line for line in log.splitlines() if line.startswith("Successfully installed"))
    assert "dyconv" in installed_line and "torch" not in installed_line
    names = vpython(installed, """
        import importlib.util
        print([n for n in ("dyconv", "models", "training", "deployment", "audiodata") if importlib.util.find_spec(n)])
    """, tmp_path)  # found without importing: dyconv's import would compile the ops
    assert names.returncode == 0 and names.stdout.strip() == "['dyconv']", names.stderr[-3000:]


def test_first_import_compiles_the_ops_then_reuses_them(installed, tmp_path):
    first = vpython(installed, CHECK_OPS, tmp_path)
    assert first.returncode == 0, first.stderr[-5000:]
    assert first.stdout.strip() == f"dyconv from {installed[0] / 'dyconv' / '__init__.py'}"
    compiling = [line for line in first.stderr.splitlines() if line.startswith("dyconv: compiling")]
    assert len(compiling) == 1, first.stderr[-3000:]
    if torch.version.cuda is None:
        assert "without CUDA kernels: torch is a CPU build" in compiling[0]
    second = vpython(installed, CHECK_OPS, tmp_path)
    assert second.returncode == 0 and "dyconv: compiling" not in second.stderr, second.stderr[-3000:]


def test_a_users_models_package_and_the_papers_models_side_by_side(installed, tmp_path):
    clone = installed[0]
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("WHO = 'the user'\n")
    user = vpython(installed, """
        import importlib.util, models, dyconv, torch
        assert models.WHO == "the user", models.__file__
        paper = ("training", "deployment", "audiodata")
        assert all(importlib.util.find_spec(n) is None for n in paper), "paper code installed"
        print(dyconv.dynamic_conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 1, 3, 3), padding=1)[0, 0, 1, 1].item())
    """, tmp_path)
    assert user.returncode == 0 and user.stdout.strip() == "9.0", user.stderr[-3000:]
    # the paper's code runs from the checkout, as experiments/*.py load it (repo root first on sys.path)
    paper = vpython(installed, f"""
        import sys; sys.path.insert(0, {str(clone)!r})
        import torch, models
        assert models.__file__.startswith({str(clone)!r}), models.__file__
        print(tuple(models.build("dsl", "small")(torch.rand(2, 1, 40, 64)).shape))
    """, tmp_path)
    assert paper.returncode == 0 and paper.stdout.strip() == "(2, 10)", paper.stderr[-3000:]


def _site_packages(installed):
    _, python, env, _ = installed
    out = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _tree(root):
    """{relative path: bytes} of every file under ``root``."""
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(root) for f in files}


def test_pip_install_dot_carries_the_sources_and_compiles_them_at_first_import(installed_copy, tmp_path):
    """The carried csrc/ is byte for byte the checkout's, and the first import compiles that copy.

    The compile itself is proven once, by the editable install above, on the same bytes with the same flags
    (dyconv/_build.py); here the compiler fails every compile at once (CXX), which also shows what a user
    without a working compiler is told, without compiling the ops a second time (about 100 s on 2 cores)."""
    clone, python, env, _ = installed_copy
    site = _site_packages(installed_copy)
    carried = os.path.join(site, "dyconv", "csrc")
    assert _tree(carried) == _tree(clone / "csrc")
    assert not [f for f in os.listdir(os.path.join(site, "dyconv")) if f.startswith("_C")], "no torch in isolation"
    failing = tmp_path / "failing-c++"  # says its version like g++, and fails every compile
    failing.write_text(f'#!/bin/sh\ncase "$1" in -v|--version) exec {shutil.which("g++") or "c++"} "$@";; esac\nexit 1\n')
    failing.chmod(0o755)
    first = subprocess.run([python, "-c", CHECK_OPS], cwd=tmp_path, env={**env, "CXX": str(failing)},
                           capture_output=True, text=True, timeout=900)
    assert first.returncode != 0
    compiling = [line for line in first.stderr.splitlines() if line.startswith("dyconv: compiling")]
    assert len(compiling) == 1 and f"into {os.path.join(env['TORCH_EXTENSIONS_DIR'], '')}" in compiling[0], \
        first.stderr[-3000:]
    assert os.path.join(carried, "dyconv.cpp") in first.stderr  # ninja's failed command: the carried sources
    no_compiler = subprocess.run([python, "-c", CHECK_OPS], cwd=tmp_path, env={**env, "CXX": shutil.which("false")},
                                 capture_output=True, text=True, timeout=900)  # cannot even say its version
    for proc in (first, no_compiler):
        error = proc.stderr.strip().splitlines()[-1]
        assert error.startswith("ImportError: dyconv: compiling the ops") and "C++ compiler" in error, error


def test_pip_wheel_holds_what_pip_install_dot_installed(installed_copy, tmp_path):
    clone, python, env, _ = installed_copy
    wheel = subprocess.run([python, "-m", "pip", "wheel", ".", "--no-deps", "-w", str(tmp_path)], cwd=clone,
                           env=env, capture_output=True, text=True, timeout=900)
    assert wheel.returncode == 0, wheel.stdout[-3000:] + wheel.stderr[-3000:]
    (path,) = tmp_path.glob("dyconv-*.whl")
    with zipfile.ZipFile(path) as z:
        in_wheel = {n for n in z.namelist() if n.startswith("dyconv/")}
    root = _site_packages(installed_copy)
    installed_files = {os.path.relpath(os.path.join(d, f), root)
                       for d, _, files in os.walk(os.path.join(root, "dyconv")) if "__pycache__" not in d
                       for f in files}
    assert "dyconv/csrc/cpu/conv.h" in in_wheel and in_wheel == installed_files
