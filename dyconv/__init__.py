"""dyconv: per-sample ("dynamic") dilated convolution fused with per-sample
normalization, affine and activation, as PyTorch custom ops.

Public functions: :func:`dynamic_conv2d`, :func:`dynamic_conv_norm_act`;
plain-PyTorch ground truth in :mod:`dyconv.reference`.
"""
import torch  # noqa: F401  (loads libtorch before the extension below)

from dyconv import _C  # noqa: F401  (loads the compiled ops into torch.ops.dyconv)
from dyconv import _autocast, _autograd, _fake  # noqa: F401  (registrations)
from dyconv import reference
from dyconv._backend import cuda_available
from dyconv.functional import dynamic_conv2d, dynamic_conv_norm_act

__all__ = ["dynamic_conv2d", "dynamic_conv_norm_act", "reference", "cuda_available"]

