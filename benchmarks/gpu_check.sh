#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py): build, test, sanitize, time, report in one command.
#   bash benchmarks/gpu_check.sh [--out gpu_report] [--wheels DIR] [--dry-run]   (--help for all flags)
# PYTHON picks the interpreter (default: python3, the one with the machine's CUDA torch).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" -m benchmarks.gpu_check "$@"
