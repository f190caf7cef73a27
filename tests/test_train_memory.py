"""training.engine.memory: the training program keeps freed large blocks for reuse, unless the user chose otherwise."""
import ctypes.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from training.engine import memory

ROOT = Path(__file__).resolve().parent.parent
GLIBC_LINUX = sys.platform.startswith("linux") and ctypes.util.find_library("c") is not None

# Resident memory after a 256 MiB tensor was filled and freed, with or without keep_freed_memory().
PROBE = textwrap.dedent("""
    import sys, torch
    from training.engine import memory
    if sys.argv[1] == "keep":
        print(memory.keep_freed_memory())
    def rss_mib():
        return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
    before = rss_mib()
    t = torch.ones(64, 2**20)
    del t
    print(rss_mib() - before)
""")


def freed_but_resident_mib(mode: str, env=None) -> tuple[str, float]:
    cmd = [sys.executable, "-c", PROBE, mode]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    lines = [line for line in out if line]
    return lines[0] if mode == "keep" else "", float(lines[-1])


@pytest.mark.skipif(not GLIBC_LINUX, reason="glibc's malloc on Linux")
def test_freed_tensor_memory_is_kept_for_reuse():
    chosen = ("LD_PRELOAD", "GLIBC_TUNABLES")  # the user's own choices, which keep_freed_memory leaves alone
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k not in chosen}
    line, kept = freed_but_resident_mib("keep", env)
    assert "keeps freed large blocks" in line
    _, default = freed_but_resident_mib("default", env)
    assert kept > 200, f"expected the freed 256 MiB to stay resident, got {kept:.0f} MiB"
    assert default < 50, f"expected glibc's default to return the freed 256 MiB, got {default:.0f} MiB kept"


@pytest.mark.parametrize("name, value, expected", [
    ("MALLOC_MMAP_MAX_", "65536", "glibc malloc with MALLOC_MMAP_MAX_=65536, the user's choice"),
    ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0", "with GLIBC_TUNABLES=glibc.malloc.trim_threshold=0"),
    ("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "jemalloc (LD_PRELOAD), the user's choice"),
])
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux")
def test_the_users_own_allocator_choice_is_left_alone(monkeypatch, name, value, expected):
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda *a: pytest.fail("mallopt called despite the user's choice"))
    monkeypatch.setenv(name, value)
    assert expected in memory.keep_freed_memory()
