"""The CUDA kernels (csrc/cuda/*.cu), emulated on CPU, under ThreadSanitizer and AddressSanitizer + UBSan.

The kernel sources are compiled as host C++ through the block emulator
(csrc/cuda/emulation/cuda_emulator.h) together with a standalone driver
(csrc/cuda/emulation/sanitizer_driver.cpp) that checks every output of the
ops (channel groups, depthwise and the transposed conv included) against a
float64 computation of its own. In the emulation each
thread of a block is a real thread and each shared array is a per-block heap
allocation of its exact size, so:

- a missing ``__syncthreads()`` between a shared-memory write and another
  thread's read is a TSan data-race report (whatever values come out);
- a read or write past a shared tile or past an output buffer is an ASan
  report (UBSan's -fsanitize=bounds also catches an index past an inner
  dimension of a shared array);
- threads of a block reaching different numbers of ``__syncthreads()`` fail
  the launch (the emulator counts them), as do launch configurations and
  shared-memory sizes a GPU rejects (the driver checks these first, on
  kernels of its own).

Any sanitizer report, launch failure or wrong value fails the test, with the
report in the message. Builds are cached under build/cuda_sanitizers/, keyed
by the sources. Takes about a minute per sanitizer on 2 cores.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
SOURCES = sorted((CSRC / "cuda").glob("*.cu")) + [CSRC / "cuda" / "emulation" / "sanitizer_driver.cpp"]
BASE_FLAGS = ["-std=c++20", "-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-Wall",
              "-DDYCONV_CUDA_EMULATION", f"-I{CSRC}"]
SANITIZERS = {
    "thread": dict(flags=["-fsanitize=thread"],
                   env={"TSAN_OPTIONS": "halt_on_error=1 exitcode=66 second_deadlock_stack=1"}),
    "address,undefined": dict(flags=["-fsanitize=address,undefined", "-fno-sanitize-recover=all"],
                              env={"ASAN_OPTIONS": "halt_on_error=1 detect_leaks=1 exitcode=66",
                                   "UBSAN_OPTIONS": "halt_on_error=1 print_stacktrace=1"}),
}
# What a sanitizer writes when it reports something (also caught by the exit code).
REPORT_MARKERS = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                  "runtime error:")
GXX = shutil.which(os.environ.get("CXX", "g++"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(GXX is None, reason="g++ not found (the sanitizer builds compile with it)"),
]


def _key(flags) -> str:
    h = hashlib.sha256(" ".join(flags).encode())
    headers = sorted((CSRC / "cuda").rglob("*.h")) + sorted((CSRC / "cuda").rglob("*.cuh"))
    for path in SOURCES + headers:
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def build(sanitizer: str) -> Path:
    """Compile (or reuse) the driver and the kernels with -fsanitize=<sanitizer>."""
    flags = BASE_FLAGS + SANITIZERS[sanitizer]["flags"]
    out_dir = ROOT / "build" / "cuda_sanitizers"
    exe = out_dir / f"driver_{sanitizer.replace(',', '_')}_{_key(flags)}"
    if exe.exists():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        probe = Path(tmp) / "probe.cpp"
        probe.write_text("int main() { return 0; }\n")
        done = _run([GXX, *flags, str(probe), "-o", str(Path(tmp) / "probe")])
        assert done.returncode == 0, (
            f"{GXX} cannot link -fsanitize={sanitizer}: install its runtime "
            f"(Debian/Ubuntu: apt-get install libtsan2 libasan8 libubsan1)\n{done.stderr}")

        def compile_one(src: Path) -> Path:
            obj = Path(tmp) / (src.name + ".o")
            lang = ["-x", "c++"] if src.suffix == ".cu" else []
            cmd = [GXX, *flags, *lang, "-c", str(src), "-o", str(obj)]
            done = _run(cmd)
            assert done.returncode == 0, f"sanitizer build failed: {' '.join(cmd)}\n{done.stderr}"
            return obj

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            objs = list(pool.map(compile_one, SOURCES))
        tmp_exe = Path(tmp) / exe.name
        cmd = [GXX, *flags, *map(str, objs), "-o", str(tmp_exe)]
        done = _run(cmd)
        assert done.returncode == 0, f"sanitizer link failed: {' '.join(cmd)}\n{done.stderr}"
        os.replace(tmp_exe, exe)
    return exe


def failure_excerpt(output: str, lines: int = 40) -> str:
    """The first sanitizer report (its message and the top two frames of each stack), or the failed checks."""
    rows = output.splitlines()
    for i, row in enumerate(rows):
        if any(m in row for m in REPORT_MARKERS):
            keep = [r for r in rows[i:] if not r.lstrip().startswith(tuple(f"#{n}" for n in range(2, 100)))]
            return "\n".join(r[:300] for r in keep[:lines])
    failed = [r for r in rows if r.startswith("FAIL")]
    return "\n".join(failed[:lines] + rows[-3:])


@pytest.mark.parametrize("sanitizer", list(SANITIZERS))
def test_emulated_kernels_under_sanitizer(sanitizer):
    exe = build(sanitizer)
    env = {**os.environ, **SANITIZERS[sanitizer]["env"]}
    done = _run([str(exe)], env=env, timeout=900)
    output = done.stdout + done.stderr
    reported = [m for m in REPORT_MARKERS if m in output]
    assert done.returncode == 0 and not reported, (
        f"-fsanitize={sanitizer}: driver exit code {done.returncode}"
        f"{', reports: ' + ', '.join(reported) if reported else ''}\n{failure_excerpt(output)}")
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    assert summary.startswith("sanitizer driver:") and summary.endswith(" 0 failed"), summary
    print(f"\n-fsanitize={sanitizer}: {summary}")
