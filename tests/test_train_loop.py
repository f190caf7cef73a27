"""training.engine.loop.train_stage: dev selection, exact resume after an interruption, the NaN stop."""
import pytest
import torch

from training.engine import checkpoint
from training.engine.evaluate import accuracy
from training.engine.loop import TrainingDiverged, train_stage

from helpers.train_tiny import tiny_context, tiny_data, tiny_model

TRAIN, DEV = tiny_data(44, seed=1), tiny_data(20, seed=2)  # 44 = 5 full batches of 8 + one of 4
STEPS_PER_EPOCH = 6


def _train(path, epochs, ctx=None, init_seed=0):
    torch.manual_seed(init_seed)
    model = tiny_model()
    result = train_stage("tiny", model, list(model.parameters()), TRAIN, DEV, epochs, path, ctx or tiny_context())
    return model, result


def _assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_keeps_the_best_epoch_on_dev(tmp_path):
    model, result = _train(tmp_path / "a.pt", epochs=4)
    history = checkpoint.load(tmp_path / "a.pt")["history"]
    devs = [h["dev_accuracy"] for h in history]
    assert len(devs) == 4
    assert result.epoch == devs.index(max(devs))
    assert result.dev_accuracy == max(devs)
    assert accuracy(model, DEV, tiny_context())[0] == pytest.approx(max(devs))


def test_finished_stage_is_loaded_not_retrained(tmp_path):
    first, result = _train(tmp_path / "a.pt", epochs=2)
    again, result_again = _train(tmp_path / "a.pt", epochs=2, init_seed=99)
    _assert_same_weights(first, again)
    assert result_again == result


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path):
    reference, ref_result = _train(tmp_path / "ref.pt", epochs=3)

    ctx = tiny_context()
    steps = []

    def interrupt(stage):  # stop mid-epoch 2, like kill -9: no checkpoint of that epoch is written
        steps.append(1)
        if len(steps) == STEPS_PER_EPOCH + 3:
            raise KeyboardInterrupt

    ctx.faults.step_done = interrupt
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "run.pt", epochs=3, ctx=ctx)
    assert checkpoint.load(tmp_path / "run.pt")["epoch"] == 0  # only epoch 1 was saved

    torch.manual_seed(1234)  # a new process has other random state; the checkpoint restores it
    resumed, result = _train(tmp_path / "run.pt", epochs=3, init_seed=7)
    _assert_same_weights(resumed, reference)
    assert result == ref_result
    def curve(path):
        return [(h["loss"], h["dev_accuracy"]) for h in checkpoint.load(path)["history"]]

    assert curve(tmp_path / "run.pt") == curve(tmp_path / "ref.pt")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    one_epoch, _ = _train(tmp_path / "one.pt", epochs=1)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 2, step 2.*after epoch 1\) is intact"):
        _train(tmp_path / "run.pt", epochs=3, ctx=tiny_context(faults=f"nan_at_step={STEPS_PER_EPOCH + 2}"))
    saved = checkpoint.load(tmp_path / "run.pt")
    assert saved["epoch"] == 0 and not saved["done"]
    for k, v in one_epoch.state_dict().items():  # the state after epoch 1, untouched by the NaN step
        assert torch.equal(saved["model"][k], v), k


def test_amp_runs_the_training_forward_under_bfloat16_autocast(tmp_path):
    """--amp (Context.amp): training forwards under bfloat16 autocast, evaluation in float32."""
    torch.manual_seed(0)
    model = tiny_model()
    seen = []
    model[1].register_forward_hook(lambda m, i, out: seen.append((m.training, out.dtype)))
    result = train_stage("tiny", model, list(model.parameters()), TRAIN, DEV, 2, tmp_path / "amp.pt",
                         tiny_context(amp=True))
    assert {dtype for training, dtype in seen if training} == {torch.bfloat16}
    assert {dtype for training, dtype in seen if not training} == {torch.float32}
    assert result.dev_accuracy > 0.5  # it learns (3 classes, chance 1/3)
    assert all(p.dtype == torch.float32 for p in model.parameters())
