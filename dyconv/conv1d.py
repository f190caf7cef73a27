"""The 1-D per-sample convolutions: the 2-D ops on maps of height 1.

``x`` ``(B, Cin, L)`` runs as ``(B, Cin, 1, L)`` and ``weight`` ``(..., k)`` as ``(..., 1, k)`` (views, no
copies); autograd, double backward, ``torch.func``, ``torch.compile`` and ``torch.export`` are those of
the 2-D ops. Tensor errors past the ranks come from the 2-D op (the same tensor dims and indices).
"""
from __future__ import annotations

from dyconv._args import single
from dyconv.functional import check_tensors, dynamic_conv2d, dynamic_conv_transpose2d


def _padding(padding):
    return padding if isinstance(padding, str) else (0, single("padding", padding))


def dynamic_conv1d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Per-sample 1-D convolution: ``out[b] = F.conv1d(x[b:b+1], weight[b], bias[b], ...)``.

    Args:
        x: ``(B, Cin, L)``.
        weight: ``(B, Cout, Cin // groups, k)``; sample ``b`` is convolved with ``weight[b]``.
        bias: ``(B, Cout)`` or ``None``.
        stride, dilation: int (or a one-int tuple), >= 1.
        padding: int, ``"same"`` (stride 1 only) or ``"valid"``.
        groups: as in ``F.conv1d``.

    Returns ``(B, Cout, Lout)`` with the output length of ``F.conv1d``.
    """
    check_tensors("dynamic_conv1d", x, weight, "(B, Cout, Cin / groups, k)", "(B, Cin, L)")
    y = dynamic_conv2d(x.unsqueeze(2), weight.unsqueeze(3), bias, stride=(1, single("stride", stride)),
                       padding=_padding(padding), dilation=(1, single("dilation", dilation)), groups=groups)
    return y.squeeze(2)


def dynamic_conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Per-sample transposed 1-D convolution: ``out[b] = F.conv_transpose1d(x[b:b+1], weight[b], bias[b], ...)``,
    with ``F.conv_transpose1d``'s arguments in its order.

    Args:
        x: ``(B, Cin, L)``.
        weight: ``(B, Cin, Cout // groups, k)``.
        bias: ``(B, Cout)`` or ``None``.
        stride, padding, output_padding, dilation: ints (or one-int tuples), as in ``F.conv_transpose1d``.

    Returns ``(B, Cout, Lout)``, ``Lout = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.
    """
    check_tensors("dynamic_conv_transpose1d", x, weight, "(B, Cin, Cout / groups, k)", "(B, Cin, L)")
    y = dynamic_conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(3), bias, (1, single("stride", stride)),
                                 (0, single("padding", padding)), (0, single("output_padding", output_padding)),
                                 groups, (1, single("dilation", dilation)))
    return y.squeeze(2)
