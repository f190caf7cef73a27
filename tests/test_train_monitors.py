"""Mask instruments: statistics of known masks, gradient groups, masks.csv / training.png of a tiny enhancer run."""
import csv

import pytest
import torch
from torch.utils.data import TensorDataset

import models
from training.engine import checkpoint
from training.engine.loop import train_stage
from training.monitor import mask_stats
from training.monitor.grad_norms import GradNorms, parameter_groups
from training.monitor.stage_monitor import TrainingRecord

from helpers.train_tiny import tiny_context


def test_summary_of_a_known_mask():
    # 10 bins, in two masks of different shapes (the statistics pool all bins); 0.5 is exact in float32
    a = torch.tensor([[0.1, 0.3, 0.5, 0.7, 0.85]])
    b = torch.tensor([[[0.92, 0.95], [1.0, 1.0]]])[..., None].reshape(1, 2, 2)
    b = torch.cat([b.flatten(), torch.ones(1)])
    values = torch.cat([a.flatten(), b.flatten()])
    s = mask_stats.summarize([a, b])
    assert s["mean"] == pytest.approx(values.double().mean().item())
    assert s["std"] == pytest.approx(values.double().std(unbiased=False).item())
    assert s["below_0.5"] == pytest.approx(2 / 10)  # 0.5 itself is not below 0.5
    assert s["below_0.9"] == pytest.approx(5 / 10)


def test_log_line_names_each_stage():
    s = {"mean": 0.975, "std": 0.023, "below_0.5": 0.0, "below_0.9": 0.012}
    assert mask_stats.describe([s]) == "mask mean 0.975 std 0.023 <0.5 0.0% <0.9 1.2%"
    assert mask_stats.describe([s, s]).startswith("mask1 mean 0.975") and "; mask2 mean" in mask_stats.describe([s, s])


@pytest.mark.parametrize("name, groups", [
    ("sfe", ["layer1", "layer2", "layer3", "layer4", "layer5"]),
    ("dsl", ["generator", "layer1", "layer2", "layer3", "layer4", "layer5"]),
    ("dcl", ["generator", "layer1", "layer2", "layer3", "layer4", "layer5"]),
])
def test_gradient_groups_cover_the_trainable_parameters_once(name, groups):
    model = models.build(name, "small")
    found = parameter_groups(model)
    assert list(found) == groups
    ids = [id(p) for params in found.values() for p in params]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.trainable_parameters()}  # DCL: stage 2 only, DSL: the shared stage


def test_gradient_norm_is_the_rms_over_steps():
    model = models.build("sfe", "small")
    norms = GradNorms(model)
    layer5 = parameter_groups(model)["layer5"]
    expected = []
    for k in (1.0, 3.0):
        for p in model.trainable_parameters():
            p.grad = torch.full_like(p, k)
        norms.step()
        expected.append(k * sum(p.numel() for p in layer5) ** 0.5)
    got = norms.epoch()
    assert got["layer5"] == pytest.approx(((expected[0] ** 2 + expected[1] ** 2) / 2) ** 0.5)
    assert norms.steps == 0


def _clips(n, seed):
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.rand(n, 1, 40, 40, generator=g), torch.randint(0, 10, (n,), generator=g))


def test_tiny_enhancer_run_writes_masks_csv_and_training_png(tmp_path):
    torch.manual_seed(0)
    record = TrainingRecord(tmp_path)
    clf = models.build("cnn-fc", "small")
    train, dev = _clips(12, 1), _clips(8, 2)
    ctx = tiny_context(batch_size=6)
    train_stage("cnn-fc", clf, list(clf.parameters()), train, dev, 1, tmp_path / "c.pt", ctx,
                monitor=record.stage("cnn-fc", clf))
    dsl = models.build("dsl", "small")
    dsl.load_classifier(clf)
    train_stage("dsl", dsl, dsl.trainable_parameters(), train, dev, 2, tmp_path / "d.pt", ctx,
                monitor=record.stage("dsl", dsl))

    rows = list(csv.DictReader((tmp_path / "masks.csv").open()))
    # the classifier has no mask; epoch 0 = before training
    assert [(r["stage"], r["epoch"]) for r in rows] == [("dsl", "0"), ("dsl", "1"), ("dsl", "2")]
    assert rows[0]["train_loss"] == "" and 0.4 < float(rows[0]["mask1_mean"]) < 0.6  # sigmoid(LN(.))
    rows = rows[1:]
    history = checkpoint.load(tmp_path / "d.pt")["history"]
    for r, h in zip(rows, history):
        assert float(r["dev_accuracy"]) == pytest.approx(h["dev_accuracy"], abs=1e-4)
        for i in (1, 2):  # DSL: two mask stages, recomputed here independently of the monitor
            assert 0 < float(r[f"mask{i}_mean"]) <= 1
        assert all(float(r[f"grad_{g}"]) > 0 for g in ("generator", "layer1", "layer5"))
    dsl.eval()
    with torch.no_grad():
        masks = dsl.enhance(dev.tensors[0])[1]  # the selected model: its statistics are the selected epoch's
    best = checkpoint.load(tmp_path / "d.pt")["best"]["epoch"]
    for i, m in enumerate(masks):
        assert float(rows[best][f"mask{i + 1}_mean"]) == pytest.approx(m.double().mean().item(), abs=1e-5)
        assert float(rows[best][f"mask{i + 1}_below_0.9"]) == pytest.approx((m < 0.9).double().mean().item(),
                                                                              abs=1e-5)
    png = (tmp_path / "training.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
