"""Keep freed memory in the process: on CPU, every large tensor otherwise costs a fresh mapping
that the kernel zero-fills page by page.

glibc's malloc serves blocks above its mmap threshold (at most 32 MiB) with a new mapping each
time and unmaps them on free, so a training step whose activations are tens of MiB pays for
zeroing every one of them, every step. PyTorch's CPU allocator does not cache. Asking glibc to
never map large blocks separately (M_MMAP_MAX 0) and not to return the top of its heap
(M_TRIM_THRESHOLD) lets the next step reuse the memory, as tcmalloc would: a CPU training step
takes 14-36% less time (benchmarks/RESULTS.md, "The allocator"). The price: the process keeps its
peak memory until it exits.

This is a choice for the training program, not for the library: ``dyconv`` and ``models`` never
change the allocator of the process that imports them.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_MAX = -4
KEEP_AT_TOP = 2**31 - 1  # bytes of free heap top kept (mallopt takes an int)

# The user's own choice, which is left alone: glibc's tunables, or another allocator preloaded.
_OWN_CHOICE_ENV = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")
_OTHER_ALLOCATORS = ("tcmalloc", "jemalloc", "mimalloc")


def users_choice() -> str | None:
    """The allocator setting the user made for this process (another malloc preloaded, glibc's tunables
    in the environment), in words; None when there is none (glibc's defaults, unless changed in-process)."""
    preload = os.environ.get("LD_PRELOAD", "")
    other = next((name for name in _OTHER_ALLOCATORS if name in preload), None)
    if other:
        return f"{other} (LD_PRELOAD)"
    own = [f"{name}={os.environ[name]}" for name in _OWN_CHOICE_ENV if name in os.environ]
    return f"glibc malloc with {' '.join(own)}" if own else None


def allocator_in_use() -> str:
    """For benchmark headers: the user's allocator choice, or the system's default malloc."""
    return users_choice() or "the system's default malloc"


def keep_freed_memory() -> str:
    """Configure glibc's malloc to keep freed large blocks for reuse, unless the user chose an allocator
    setting themselves. Returns one line saying what was done, for the run's log."""
    if not sys.platform.startswith("linux"):
        return "memory: system allocator (not Linux)"
    choice = users_choice()
    if choice:
        return f"memory: {choice}, the user's choice"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no mallopt tunables of this kind)
    except (OSError, AttributeError):
        return "memory: system allocator (not glibc)"
    if not (libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, KEEP_AT_TOP)):
        return "memory: system allocator (glibc refused mallopt)"
    return ("memory: glibc malloc keeps freed large blocks for reuse (faster CPU steps; "
            "set MALLOC_MMAP_MAX_ or preload tcmalloc/jemalloc to choose yourself)")
