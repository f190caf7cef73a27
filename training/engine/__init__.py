"""The stage engine, which knows nothing of the paper's recipe: ``loop.train_stage`` trains one stage with atomic
per-epoch checkpoints (``checkpoint``, ``files``) and exact resume; ``context`` is what the stages share (processes
from ``distributed``, ``log``, ``eta``, ``faults``); ``evaluate`` measures accuracy; ``memory`` the CPU allocator."""
