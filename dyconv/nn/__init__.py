"""Layers on the per-sample convolution ops.

- :class:`DynamicConv2d`: a module around :func:`dyconv.dynamic_conv2d` (weights come with the input);
- :class:`CondConv2d`: a mixture of expert kernels routed per sample, drop-in for timm's
  ``timm.layers.CondConv2d`` (same parameters and state dict);
- :class:`ModulatedConv2d`: StyleGAN2/3's modulated (and demodulated) convolution, ``up=2`` through
  :func:`dyconv.dynamic_conv_transpose2d`.
"""
from dyconv.nn.cond_conv import CondConv2d
from dyconv.nn.dynamic_conv import DynamicConv2d
from dyconv.nn.modulated_conv import ModulatedConv2d

__all__ = ["DynamicConv2d", "CondConv2d", "ModulatedConv2d"]
