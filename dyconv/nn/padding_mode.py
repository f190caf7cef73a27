"""``padding_mode`` of the dyconv.nn layers, with ``nn.Conv2d``'s meanings and errors.

``"zeros"`` leaves the padding to the op; ``"reflect"``, ``"replicate"`` and ``"circular"`` pad
the input with ``F.pad`` (as ``nn.Conv2d`` does, so its errors too: reflect padding not smaller
than the input, circular padding wrapping around more than once) before a padding-0 call.
"""
from __future__ import annotations

import torch.nn.functional as F

from dyconv._args import conv_params

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def check_padding_mode(layer: str, padding_mode, transposed: bool = False) -> str:
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{layer}: padding_mode must be one of {', '.join(map(repr, PADDING_MODES))}, "
                         f"got {padding_mode!r}")
    if transposed and padding_mode != "zeros":
        raise ValueError(f'{layer}: only padding_mode="zeros" is supported for transposed convolutions (up=2), '
                         f"as in nn.ConvTranspose2d; got {padding_mode!r}")
    return padding_mode


def pad(x, padding_mode: str, kernel_size, stride, padding, dilation):
    """``(x, padding)`` to convolve with: as given for ``"zeros"``; else ``x`` padded by ``F.pad``
    with ``padding_mode`` (``"same"``: the far side gets the odd one, as in ``nn.Conv2d``) and 0."""
    if padding_mode == "zeros":
        return x, padding
    _, (pH, pW), _, (eH, eW) = conv_params(tuple(kernel_size), stride, padding, dilation)
    return F.pad(x, (pW, pW + eW, pH, pH + eH), mode=padding_mode), 0
