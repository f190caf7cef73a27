"""Entry point of experiments/train.py: parse, run the protocol, turn expected failures into one-line messages."""
from __future__ import annotations

import sys

from training import options
from training.engine import distributed, memory
from training.engine.checkpoint import RefusedFile
from training.engine.log import Log
from training.engine.loop import TrainingDiverged
from training.errors import UsageError

PROG = "train.py"


def main(argv=None) -> int:
    """Exit codes: 0 done, 1 training diverged, 2 user mistake or a refused file, 130 interrupted (Ctrl-C)."""
    d = None
    try:
        opts = options.parse(argv)
        d = distributed.from_environment(opts.device)
        from training import protocol  # after parsing: --help and flag errors stay fast

        log = Log(enabled=d.is_main, verbose=opts.verbose)
        log.detail(memory.keep_freed_memory())
        protocol.run(opts, d, log)
        return 0
    except (UsageError, RefusedFile) as e:  # RefusedFile: a checkpoint or cache entry that is not plain data
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; continue later with --resume --out DIR", file=sys.stderr)
        return 130
    finally:
        if d is not None:
            d.close()
