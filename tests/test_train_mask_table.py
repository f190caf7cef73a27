"""experiments/mask_table.py's selection: per stage the first epoch with the best dev accuracy, as train_stage
keeps it, and that epoch's mask statistics."""
import json

from training.monitor import mask_table
from training.monitor.stage_monitor import masks_csv


def test_the_selected_epoch_is_the_first_best_on_dev(tmp_path):
    def epoch(e, acc, mean):
        return {"epoch": e, "loss": 1.0, "seconds": 1.0, "dev_accuracy": acc,
                "masks": [{"mean": mean, "std": 0.1, "below_0.5": mean / 10, "below_0.9": 0.5}]}
    history = [epoch(0, 0.5, 0.6), epoch(1, 0.7, 0.7), epoch(2, 0.6, 0.8), epoch(3, 0.7, 0.9)]
    initial = {"dsl": {"epoch": -1, "masks": [{"mean": 0.5, "std": 0.2, "below_0.5": 0.5, "below_0.9": 1.0}]}}
    (tmp_path / "masks.csv").write_text(masks_csv({"dsl": history}, initial))
    (tmp_path / "config.json").write_text(json.dumps({"seeds": [4], "seed": 4}))
    [row] = mask_table.selected_rows(tmp_path / "masks.csv")
    assert (row["epoch"], row["epochs"], float(row["mask1_mean"]), row["initial"]["mask1_mean"]) == ("2", 4, 0.7,
                                                                                                     "0.50000")
    assert mask_table.table([tmp_path]).splitlines()[2] == "| 4 | dsl | 2 / 4 | 70.0 | 0.700, 0.100, 7.0 % | – |"
