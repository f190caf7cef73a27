"""gradcheck, torch.library.opcheck and torch.compile on the ops."""
import pytest
import torch
from torch.autograd import gradcheck

import dyconv
from conftest import assert_close, make_problem, opcheck_problems, OPCHECK_PROBLEMS

F64 = torch.float64


@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "none"])
def test_gradcheck_dynamic_conv_norm_act(norm, activation):
    inputs = make_problem(2, 2, 5, 6, 3, (3, 3), F64, seed=3)
    kw = dict(padding="same", dilation=2, norm=norm, activation=activation)
    assert gradcheck(lambda *a: dyconv.dynamic_conv_norm_act(*a, **kw), inputs, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("stride,padding,dilation", [(1, "same", 1), (2, 1, 1), (1, (2, 0), (2, 1))])
def test_gradcheck_dynamic_conv2d(stride, padding, dilation):
    x, w, _, _, bias = make_problem(2, 2, 6, 7, 3, (3, 2), F64, seed=4, bias=True)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    assert gradcheck(lambda *a: dyconv.dynamic_conv2d(*a, **kw), (x, w, bias), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("index", range(OPCHECK_PROBLEMS))
def test_opcheck(index):
    op, args = opcheck_problems()[index]
    torch.library.opcheck(op, args)


def test_torch_compile_fullgraph_matches_eager():
    torch._dynamo.reset()

    def layer(x, w, scale, shift, bias):
        y = dyconv.dynamic_conv_norm_act(x, w, scale, shift, dilation=2, norm="layer", activation="relu")
        return dyconv.dynamic_conv2d(y, w.transpose(1, 2).contiguous(), bias, padding=1).sigmoid()

    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    x, w, scale, shift, bias = make_problem(2, 3, 8, 9, 3, (3, 3), torch.float32, bias=True)
    want = layer(x, w, scale, shift, bias)
    got = compiled(x, w, scale, shift, bias)
    assert_close(got, want, torch.float32, "compiled output")
    g_want = torch.autograd.grad(want.sum(), (x, w, scale, shift, bias))
    g_got = torch.autograd.grad(got.sum(), (x, w, scale, shift, bias))
    for a, b in zip(g_got, g_want):
        assert_close(a, b, torch.float32, "compiled grad")


def test_fake_tensor_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        x = torch.empty(3, 4, 10, 11)
        w = torch.empty(3, 6, 4, 3, 3)
        s = torch.empty(3, 6)
        assert dyconv.dynamic_conv_norm_act(x, w, s, s, norm="instance").shape == (3, 6, 10, 11)
        assert dyconv.dynamic_conv2d(x, w, stride=2, padding=1).shape == (3, 6, 5, 6)


def test_torch_compile_dynamic_batch_is_one_graph_forward_and_backward():
    """torch.compile(dynamic=True): batch sizes 2, 3, 5, 8 share one forward and one backward graph."""
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    torch._dynamo.reset()
    compiled = {"forward": 0, "backward": 0}
    backward_ops = set()

    def counting(kind):
        def compiler(gm, example_inputs):
            compiled[kind] += 1
            if kind == "backward":
                backward_ops.update(str(n.target) for n in gm.graph.nodes if n.op == "call_function")
            return make_boxed_func(gm.forward)
        return compiler

    backend = aot_autograd(fw_compiler=counting("forward"), bw_compiler=counting("backward"))

    def layer(x, w, scale, shift, bias):
        y = dyconv.dynamic_conv_norm_act(x, w, scale, shift, dilation=2, norm="instance", activation="relu")
        return dyconv.dynamic_conv2d(y, w.transpose(1, 2).contiguous(), bias, stride=2, padding=1)

    fn = torch.compile(layer, dynamic=True, fullgraph=True, backend=backend)
    for B in (2, 3, 5, 8):
        inputs = make_problem(B, 3, 8, 9, 3, (3, 3), torch.float32, seed=B, bias=True)
        got, want = fn(*inputs), layer(*inputs)
        assert_close(got, want, torch.float32, f"batch {B} output")
        for a, b in zip(torch.autograd.grad(got.sum(), inputs), torch.autograd.grad(want.sum(), inputs)):
            assert_close(a, b, torch.float32, f"batch {B} grad")
    assert compiled == {"forward": 1, "backward": 1}
    # The compiled backward keeps the fast fused backward kernel (no graph is kept for a second order).
    assert "dyconv.dynamic_conv_norm_act_backward.default" in backward_ops


def test_torch_export_with_a_dynamic_batch_matches_eager():
    from torch.export import Dim, export

    class Layer(torch.nn.Module):
        def forward(self, x, w, scale, shift, bias):
            y = dyconv.dynamic_conv_norm_act(x, w, scale, shift, dilation=2, norm="layer", activation="relu")
            return dyconv.dynamic_conv2d(y, w, bias, stride=2, padding=1)

    batch = Dim("batch")
    inputs = lambda B: [t.detach() for t in make_problem(B, 4, 10, 12, 4, (3, 3), torch.float32, seed=B, bias=True)]  # noqa: E731
    program = export(Layer(), tuple(inputs(3)), dynamic_shapes=tuple({0: batch} for _ in range(5)))
    for B in (2, 7):
        assert_close(program.module()(*inputs(B)), Layer()(*inputs(B)), torch.float32, f"exported, batch {B}")
