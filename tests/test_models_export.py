"""The models under torch.export (dynamic batch) and torch.compile(dynamic=True): same values as eager,
one graph for every batch size, and the non-finite input check kept inside the traced graph."""
import pytest
import torch
from torch.export import Dim, export

import models


def _built(name):
    torch.manual_seed(0)
    return models.build(name, "small").eval()


@pytest.mark.parametrize("name", models.NAMES)
def test_export_with_dynamic_batch_matches_eager_at_another_batch(name):
    model = _built(name)
    program = export(model, (torch.rand(3, 1, 40, 64),), dynamic_shapes=({0: Dim("batch")},))
    x = torch.rand(5, 1, 40, 64)
    with torch.no_grad():
        want = model(x)
        got = program.module()(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    bad = x.clone()
    bad[4, 0, 7, 9] = float("nan")
    with pytest.raises(RuntimeError, match="NaN or infinite"):  # the check is an assertion op in the graph
        program.module()(bad)


def test_eager_errors_stay_value_errors_after_export():
    model = _built("dsl")
    export(model, (torch.rand(2, 1, 40, 64),), dynamic_shapes=({0: Dim("batch")},))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model(torch.full((2, 1, 40, 64), float("inf")))
    with pytest.raises(ValueError, match="41 Mel bins"):
        model(torch.rand(2, 1, 41, 64))


@pytest.mark.slow
def test_compile_dynamic_is_one_graph_for_every_batch_forward_and_backward():
    model = models.build("dsl", "small")  # training mode: batch norm statistics, frozen classifier
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    compiled = torch.compile(model, dynamic=True, fullgraph=True, backend=backend)
    for batch in (2, 3, 5, 8):
        x = torch.rand(batch, 1, 40, 64)
        got = compiled(x)
        grads = torch.autograd.grad(got.square().sum(), list(model.trainable_parameters()))
        want = model(x)
        want_grads = torch.autograd.grad(want.square().sum(), list(model.trainable_parameters()))
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        for g, w in zip(grads, want_grads):
            torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)
    assert len(graphs) == 1
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        compiled(torch.full((2, 1, 40, 64), float("nan")))
