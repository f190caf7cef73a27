"""torch.func transforms and forward-mode AD through both ops, against the same transforms of
dyconv.reference in float64: jvp, jacfwd, forward_ad, grad, jacrev, hessian, jvp(grad), vmap and
vmap(grad) (per-sample gradients), for the conv with and without bias and the fused op with every
norm and activation. Also: a tangent is never silently dropped, and torch.compile of torch.func.grad."""
import pytest
import torch
import torch.autograd.forward_ad as fwAD
from torch import func

import dyconv
from dyconv import reference
from conftest import assert_close, make_problem
from test_ops_values import ACTIVATIONS, NORMS

F64 = torch.float64

pytestmark = pytest.mark.usefixtures("torch_jvp_decompositions")  # torch's own warnings (conftest)


def _rand(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _conv(mod, bias, stride=1, padding=1, dilation=(1, 2)):
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    if bias:
        return lambda x, w, b: mod.dynamic_conv2d(x, w, b, **kw)
    return lambda x, w: mod.dynamic_conv2d(x, w, **kw)


def _fused(mod, norm, activation):
    return lambda x, w, s, t: mod.dynamic_conv_norm_act(x, w, s, t, dilation=2, norm=norm, activation=activation)


# (name, op factory over a module, inputs). Small shapes: the Jacobians and Hessians are dense.
def _cases():
    x, w, scale, shift, bias = (t.detach() for t in make_problem(2, 2, 5, 6, 3, (3, 2), F64, seed=3, bias=True))
    cases = [("conv-bias", lambda m: _conv(m, True), (x, w, bias)),
             ("conv", lambda m: _conv(m, False, stride=(2, 1), padding=(0, 1), dilation=1), (x, w)),
             ("conv-same", lambda m: _conv(m, False, padding="same", dilation=(2, 1)), (x, w))]
    for i, norm in enumerate(NORMS):
        for j, act in enumerate(ACTIVATIONS):
            cases.append((f"fused-{norm}-{act}", lambda m, n=norm, a=act: _fused(m, n, a), (x, w, scale, shift)))
    return cases


CASES = _cases()
IDS = [c[0] for c in CASES]


def _loss(f, v):
    """A scalar loss with a non-zero second derivative in every input: sum(v * out^2) / 2 + sum(out)."""
    return lambda *a: (v * f(*a) ** 2).sum() / 2 + f(*a).sum()


def _matches(got, want, what, dtype=F64):
    """Every leaf of got (in dtype) against the float64 reference's, with dtype's tolerance."""
    got, want = torch.utils._pytree.tree_leaves(got), torch.utils._pytree.tree_leaves(want)
    assert len(got) == len(want), what
    for i, (a, b) in enumerate(zip(got, want)):
        assert a is not None, f"{what}: output {i} is None"
        assert a.dtype == dtype, f"{what}: output {i} is {a.dtype}"
        assert b.abs().max() > 0, f"{what}: the reference's output {i} is zero, the case tests nothing"
        assert_close(a.to(F64), b, dtype, f"{what}: output {i}")


def _tangents(inputs):
    return tuple(_rand(t.shape, 100 + i) for i, t in enumerate(inputs))


def _argnums(inputs):
    return tuple(range(len(inputs)))


# Each takes the op f, its inputs a and a fixed random v of the output's shape (for the losses).
TRANSFORMS = {
    "jvp": lambda f, a, v: func.jvp(f, a, _tangents(a)),
    "jacfwd": lambda f, a, v: func.jacfwd(f, argnums=_argnums(a))(*a),
    "grad": lambda f, a, v: func.grad(_loss(f, v), argnums=_argnums(a))(*a),
    "jacrev": lambda f, a, v: func.jacrev(f, argnums=_argnums(a))(*a),
    # Hessian w.r.t. the weight (every second derivative of the op runs: the backward's own derivatives).
    "hessian": lambda f, a, v: func.hessian(lambda w: _loss(f, v)(a[0], w, *a[2:]))(a[1]),
    # Hessian-vector products, forward over reverse.
    "jvp(grad)": lambda f, a, v: func.jvp(func.grad(_loss(f, v), argnums=_argnums(a)), a, _tangents(a)),
    # An extra leading dimension on every input, and one on x only.
    "vmap": lambda f, a, v: (func.vmap(f)(*(torch.stack([t, 2 * t, -t]) for t in a)),
                             func.vmap(f, in_dims=(0,) + (None,) * (len(a) - 1))(torch.stack([a[0], a[0] ** 2]),
                                                                                 *a[1:])),
}


@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("name,op,inputs", CASES, ids=IDS)
def test_transform_matches_reference(transform, name, op, inputs):
    v = _rand(op(reference)(*inputs).shape, 7)
    got = TRANSFORMS[transform](op(dyconv), inputs, v)
    # The same Jacobian by reverse mode: jacfwd through the grouped conv under vmap is slow.
    want = TRANSFORMS["jacrev" if transform == "jacfwd" else transform](op(reference), inputs, v)
    _matches(got, want, f"{name}, {transform}")


@pytest.mark.parametrize("name,op,inputs", CASES, ids=IDS)
def test_forward_ad_matches_reference(name, op, inputs):
    """torch.autograd.forward_ad (make_dual / unpack_dual), outside torch.func."""
    tangents = _tangents(inputs)
    results = []
    for mod in (dyconv, reference):
        with fwAD.dual_level():
            out = op(mod)(*(fwAD.make_dual(p, t) for p, t in zip(inputs, tangents)))
            primal, tangent = fwAD.unpack_dual(out)
            results.append((primal, tangent))
    _matches(*results, f"{name}, forward_ad")


@pytest.mark.parametrize("name,op,inputs", CASES, ids=IDS)
def test_per_sample_gradients_match_reference(name, op, inputs):
    """vmap(grad(loss), in_dims=(None, 0)): the parameters (one sample's filters and affine) shared,
    the data batched -- the per-sample-gradient recipe of Opacus / functorch."""
    x, params = inputs[0], tuple(t[0] for t in inputs[1:])

    def loss_of(mod):
        f = op(mod)
        v = _rand((1, *f(*(t[:1] for t in inputs)).shape[1:]), 9)
        return lambda params, x1: _loss(f, v)(x1[None], *(p[None] for p in params))

    got = func.vmap(func.grad(loss_of(dyconv)), in_dims=(None, 0))(params, x)
    want = func.vmap(func.grad(loss_of(reference)), in_dims=(None, 0))(params, x)
    _matches(got, want, f"{name}, vmap(grad)")


def test_compile_of_torch_func_grad_matches_eager():
    x, w, scale, shift = (t.detach() for t in make_problem(2, 3, 6, 7, 4, (3, 3), F64, seed=5))

    def grads(x, w, scale, shift):
        loss = lambda w, s: dyconv.dynamic_conv_norm_act(x, w, s, shift, norm="instance").square().sum()  # noqa: E731
        return func.grad(loss, argnums=(0, 1))(w, scale)

    want = func.grad(lambda w, s: reference.dynamic_conv_norm_act(x, w, s, shift, norm="instance").square().sum(),
                     argnums=(0, 1))(w, scale)
    torch._dynamo.reset()
    _matches(torch.compile(grads)(x, w, scale, shift), want, "torch.compile(torch.func.grad)")


def test_direct_op_call_under_forward_ad_is_refused():
    """The ops themselves have reverse-mode autograd only: a direct call with a tangent must raise,
    naming forward-mode AD, rather than drop the tangent (the public functions support it)."""
    x, w = (t.detach() for t in make_problem(1, 2, 5, 5, 2, (3, 3), F64)[:2])
    with fwAD.dual_level(), pytest.raises(RuntimeError, match="forward-mode AD"):
        torch.ops.dyconv.dynamic_conv2d(fwAD.make_dual(x, torch.ones_like(x)), w, None, [1, 1], [1, 1], [1, 1])
