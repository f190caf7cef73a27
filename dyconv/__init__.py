"""dyconv: per-sample ("dynamic") dilated convolution fused with per-sample
normalization, affine and activation, as PyTorch custom ops.

Public functions: :func:`dynamic_conv2d`, :func:`dynamic_conv_norm_act`,
:func:`dynamic_conv_transpose2d`, :func:`dynamic_conv1d`, :func:`dynamic_conv_transpose1d`;
plain-PyTorch ground truth in :mod:`dyconv.reference`.
"""
import importlib.util

import torch  # noqa: F401  (loads libtorch before the extension below)

if importlib.util.find_spec("dyconv._C") is not None:  # built ahead of time (setup.py, --no-build-isolation)
    try:
        from dyconv import _C  # noqa: F401  (loads the compiled ops into torch.ops.dyconv)
    except ImportError as e:
        raise ImportError(
            f"dyconv: the prebuilt extension {importlib.util.find_spec('dyconv._C').origin} does not load with "
            f"torch {torch.__version__} ({e}); it was probably built for another torch: rebuild it with "
            "`pip install --no-build-isolation -e .`, or delete it to have it compiled at the next import") from e
else:  # a plain `pip install -e .`: compiled at first import against the installed torch, then cached
    from dyconv import _jit

    _jit.load()

from dyconv import _autocast, _autograd, _fake, _transpose_autograd  # noqa: F401  (registrations)
from dyconv import reference
from dyconv._backend import cuda_available
from dyconv.conv1d import dynamic_conv1d, dynamic_conv_transpose1d
from dyconv.engines import cpu_engine_for
from dyconv.functional import dynamic_conv2d, dynamic_conv_norm_act, dynamic_conv_transpose2d

__all__ = [
    "dynamic_conv2d", "dynamic_conv_norm_act", "dynamic_conv_transpose2d", "dynamic_conv1d",
    "dynamic_conv_transpose1d", "reference", "cuda_available",
    "cpu_engine_for",
]

