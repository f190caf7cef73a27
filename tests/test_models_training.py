"""Training-time behaviour: frozen classifier, DCL cascade, DSL sharing."""
import copy

import pytest
import torch
import torch.nn.functional as F

import models


def _state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def _changed(a, b):
    return any(not torch.equal(a[k], b[k]) for k in a)


def _train_steps(model, steps=2, batch=3, frames=32):
    torch.manual_seed(1)
    model.train()
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        x = torch.rand(batch, 1, 40, frames)
        F.cross_entropy(model(x), torch.randint(0, 10, (batch,))).backward()
        opt.step()


def _pretrained_classifier():
    """A CNN-FC with non-default weights and batch-norm running statistics."""
    cls = models.build("cnn-fc", "small")
    with torch.no_grad():
        for p in cls.parameters():
            p.add_(0.1 * torch.randn_like(p))
        cls.train()(torch.rand(3, 1, 40, 32))  # moves the running statistics
    return cls


@pytest.mark.parametrize("name", ["sfe", "dfe", "dsl"])
def test_frozen_classifier_unchanged_after_enhancer_steps(name):
    torch.manual_seed(0)
    model = models.build(name, "small")
    trained = _pretrained_classifier()
    model.load_classifier(trained)
    before_cls, before_enh = _state(model.classifier), _state(model.enhancer)
    _assert_same(before_cls, _state(trained))
    _train_steps(model)
    assert not model.classifier.training  # stays in eval mode through model.train()
    _assert_same(_state(model.classifier), before_cls)  # weights and BN running stats
    assert _changed(_state(model.enhancer), before_enh)


def test_dcl_stage2_step_leaves_stage1_and_classifier_unchanged():
    torch.manual_seed(0)
    dfe = models.build("dfe", "small")
    _train_steps(dfe)  # stage 1 "trained" as a DFE
    dcl = models.build("dcl", "small")
    dcl.load_stage1(dfe)
    _assert_same(_state(dcl.stage1), _state(dfe.enhancer))
    _assert_same(_state(dcl.classifier), _state(dfe.classifier))
    before = {name: _state(getattr(dcl, name)) for name in ("stage1", "stage2", "classifier")}
    _train_steps(dcl)
    assert not dcl.stage1.training and not dcl.classifier.training and dcl.stage2.training
    _assert_same(_state(dcl.stage1), before["stage1"])
    _assert_same(_state(dcl.classifier), before["classifier"])
    assert _changed(_state(dcl.stage2), before["stage2"])
    # with stage 1 loaded, DCL's first mask is the DFE's mask
    x = torch.rand(2, 1, 40, 32)
    dfe.eval(), dcl.eval()
    torch.testing.assert_close(dcl.enhance(x)[1][0], dfe.enhance(x)[1][0])


def test_dcl_load_stage1_rejects_other_models():
    dcl = models.build("dcl", "small")
    with pytest.raises(ValueError, match="load_stage1 expects a trained DFE, got DSL"):
        dcl.load_stage1(models.build("dsl", "small"))


def test_dsl_stages_share_every_parameter():
    dsl = models.build("dsl", "small")
    first, second = dsl.stages()
    assert first is second
    ids = lambda m: [id(p) for p in m.parameters()]  # noqa: E731
    assert ids(first) == ids(second)
    # the model holds the classifier and exactly one generator's parameters
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(dsl) == n(dsl.classifier) + n(first)
    # applying the shared stage by hand reproduces the model
    dsl.eval()
    x = torch.rand(2, 1, 40, 32)
    x1 = x * first(x)
    x2 = x1 * first(x1)
    torch.testing.assert_close(dsl.enhance(x)[0], x2)


def test_dsl_step_updates_shared_generator_from_both_stages():
    """The shared generator's gradient is the sum of the gradients through both applications."""
    torch.manual_seed(0)
    dsl = models.build("dsl", "small", n_mels=24).train()
    one = copy.deepcopy(dsl)
    x, y = torch.rand(2, 1, 24, 32), torch.tensor([0, 3])
    F.cross_entropy(dsl(x), y).backward()
    # same computation with the two stages as separate copies of the enhancer
    s1, s2 = one.enhancer, copy.deepcopy(one.enhancer)
    x1 = x * s1(x)
    F.cross_entropy(one.classifier.logits(x1 * s2(x1)), y).backward()
    for (n, p), q1, q2 in zip(dsl.enhancer.named_parameters(), s1.parameters(), s2.parameters()):
        torch.testing.assert_close(p.grad, q1.grad + q2.grad, msg=n)
