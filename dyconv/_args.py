"""Parsing and validation of the non-tensor arguments of the public functions.

Everything here runs once, at the Python boundary, before an op is called;
the ops themselves (C++ kernels and fake kernels) check the tensors.
"""
from __future__ import annotations

NORMS = ("layer", "instance", "none")
ACTIVATIONS = ("relu", "sigmoid", "none")


def pair(name: str, value) -> tuple[int, int]:
    """``int`` or a sequence of two ints -> ``(int, int)``."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")


def single(name: str, value) -> int:
    """``int`` or a sequence of one int (as ``F.conv1d`` takes them) -> ``int``."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int or a sequence of one int, got {value!r}")
    return int(value)


def conv_params(kernel_size: tuple[int, int], stride, padding, dilation):
    """Validate stride/padding/dilation the way ``F.conv2d`` accepts them.

    Returns ``(stride, padding, dilation, extra)`` where ``padding`` is the
    symmetric padding passed to the op and ``extra`` the additional
    (bottom, right) zero padding that ``padding="same"`` needs when
    ``dilation * (kernel - 1)`` is odd (``F.conv2d`` pads the far side more).
    """
    stride = pair("stride", stride)
    dilation = pair("dilation", dilation)
    if min(stride) < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if min(dilation) < 1:
        raise ValueError(f"dilation must be >= 1, got {dilation}")
    extra = (0, 0)
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(
                    f'padding="same" requires stride 1, got stride={stride}; '
                    "use an explicit padding with strided convolutions"
                )
            total = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
            padding = (total[0] // 2, total[1] // 2)
            extra = (total[0] % 2, total[1] % 2)
        else:
            raise ValueError(f'padding must be an int, a pair of ints, "same" or "valid", got {padding!r}')
    else:
        padding = pair("padding", padding)
        if min(padding) < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
    return stride, padding, dilation, extra


def check_groups(groups) -> int:
    """``groups`` of a convolution: an int >= 1 (divisibility is checked with the tensors)."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be an int >= 1, got {groups!r}")
    return int(groups)


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    return float(eps)
