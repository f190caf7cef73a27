"""What a run's training stages measure besides the loss: ``stage_monitor`` (the monitor ``train_stage`` calls)
with ``mask_stats`` and ``grad_norms``, drawn by ``training_plot``; ``mask_table`` summarises several runs' masks."""
