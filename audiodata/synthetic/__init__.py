"""Generators of the built-in synthetic urban sounds: (class, seed, rate) -> waveform.

The clip list of the built-in set is :mod:`audiodata.synthetic_set`.
"""
from .clip import DIFFICULTY, VERSION, Difficulty, generate_clip

__all__ = ["DIFFICULTY", "Difficulty", "VERSION", "generate_clip"]
