"""The readings of the paper's features and of its SNR that a run can choose (issue 21).

The paper (§4): "a Mel spectrum of size 40x248 is obtained by using a filterbank process. After that, Min-Max
normalization is performed." It names no logarithm, nor whether the filterbank sees the magnitude or the power
spectrum, nor over which samples the SNR of a noisy clip is measured. Each reading here is one answer:

- features ``logmel``: 20*log10 of the magnitude Mel spectrum relative to the clip maximum, floored 80 dB below
  it, then min-max (this project's first reading); ``mel-magnitude`` / ``mel-power``: the filterbank output of
  |STFT| or |STFT|^2, min-max per clip to [0, 1], no logarithm (the paper's words). ``mel`` names the one of the
  two that the calibration on dev chose (docs/readings.md).
- SNR reference ``clip``: the SNR is measured over the clip's own unpadded samples and noise is added to them
  only (zero padding stays silent); ``segment``: over the 4 s zero-padded segment, noise added over all of it.

Each reading has its own cache key; a model records the reading it was trained on.
"""
from .config import FeatureConfig

FEATURE_READINGS = {
    "logmel": FeatureConfig(),
    "mel-magnitude": FeatureConfig(compression="none", power=1.0),
    "mel-power": FeatureConfig(compression="none", power=2.0),
}
# The calibration on dev (docs/readings.md; CNN-FC, three seeds, dev fold x training noises): mel-power with the
# clip SNR is closest to the paper's CNN-FC noise profile (RMS distance 2.13 points; mel-power/segment 2.15,
# mel-magnitude/clip 5.44, logmel/clip 10.23), so it is the default and what "mel" stands for.
MEL = "mel-power"
DEFAULT_FEATURES = "mel-power"
SNR_REFERENCES = ("clip", "segment")
DEFAULT_SNR_REFERENCE = "clip"


def feature_reading(name=None):
    """The canonical name of a feature reading (None -> the default, ``"mel"`` -> :data:`MEL`); ValueError
    naming the choices for anything else."""
    if name is None:
        return DEFAULT_FEATURES
    key = str(name).strip().lower()
    key = MEL if key == "mel" else key
    if key not in FEATURE_READINGS:
        raise ValueError(f"features: expected one of {', '.join(['mel', *FEATURE_READINGS])}, got {name!r}")
    return key


def feature_config(name=None):
    """The :class:`~audiodata.config.FeatureConfig` of a feature reading (see :func:`feature_reading`)."""
    return FEATURE_READINGS[feature_reading(name)]


def snr_reference(name=None):
    """The SNR reference (None -> the default); ValueError naming the choices for anything else."""
    if name is None:
        return DEFAULT_SNR_REFERENCE
    key = str(name).strip().lower()
    if key not in SNR_REFERENCES:
        raise ValueError(f"snr_reference: expected one of {', '.join(SNR_REFERENCES)}, got {name!r}")
    return key
