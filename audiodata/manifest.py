"""The mixing manifest: how each noisy test clip was made (noise file and fingerprint, where the noise
segment starts in the recording, the SNR measured after mixing), and rebuilding a noisy set from it."""
import math

import numpy as np

from .config import FEATURES
from .datasets import FeatureDataset
from .extract import mix_clip
from .features import features_from_waveform
from .progress import bar as progress_bar
from .readings import feature_config, snr_reference

FIELDS = ("seed", "test_fold", "noise", "noise_file", "noise_fingerprint", "snr_db", "snr_reference", "clip",
          "label", "clip_samples", "noise_offset", "noise_offset_s", "measured_snr_db")
"""The columns of a manifest row (mixtures.csv), in order. ``noise_offset`` is the sample (at the feature
rate, 16 kHz) of the resampled recording where the clip's noise segment starts, ``noise_offset_s`` the same
in seconds of the recording; ``clip_samples`` the clip's unpadded length at 16 kHz (a segment running past
the end of the recording's test half wraps around to the half's start); ``snr_reference`` says what the SNR
is measured over and the noise added to: ``clip`` (the clip's unpadded samples) or ``segment`` (the 4 s zero
padded segment; the noise segment is then 4 s long); ``measured_snr_db`` is measured over that reference after
mixing (empty/NaN for a silent clip, which gets no noise)."""


def rows(*, seed, test_fold, noise, noise_file, noise_fingerprint, snr_db, clips, offsets, n_samples, measured,
         reference="clip"):
    """Manifest rows (dicts with :data:`FIELDS`) of one noisy set, one per clip in the set's order."""
    sr = FEATURES.sample_rate
    return [{"seed": int(seed), "test_fold": int(test_fold), "noise": noise, "noise_file": noise_file,
             "noise_fingerprint": noise_fingerprint, "snr_db": float(snr_db), "snr_reference": reference,
             "clip": clip.name,
             "label": int(clip.label), "clip_samples": int(n), "noise_offset": int(off),
             "noise_offset_s": round(int(off) / sr, 6), "measured_snr_db": float(m)}
            for clip, off, n, m in zip(clips, offsets, n_samples, measured)]


def rebuild_noisy(manifest_rows, clips, noises, *, features=None, progress=False):
    """The noisy set that ``manifest_rows`` describe, rebuilt from the clips and the noise recordings: a
    :class:`~audiodata.FeatureDataset` in row order (the same features as ``Splits.noisy_test``).

    ``manifest_rows``: dicts with :data:`FIELDS` (values may be strings, as read back from a CSV);
    ``clips``: the :class:`~audiodata.clips.Clip` objects they name (e.g. ``splits.test_clips``);
    ``noises``: a :class:`~audiodata.NoiseBank` holding the recordings; ``features``: the feature reading of the
    set (``splits.features``; None = the default reading). Each row's ``snr_reference`` (``clip`` when the column
    is absent, as in manifests written before it existed) says how it was mixed. ValueError when a clip is not among
    ``clips``, a recording's fingerprint differs from the manifest's, or a clip's length changed.
    """
    cfg = feature_config(features)
    by_name = {c.name: c for c in clips}
    feats, labels, names = [], [], []
    for row in progress_bar(list(manifest_rows), desc="rebuilding mixtures", unit="clip", disable=not progress,
                    leave=False):
        clip = by_name.get(row["clip"])
        if clip is None:
            raise ValueError(f"manifest clip {row['clip']!r} is not among the {len(by_name)} clips given")
        name = noises.check(row["noise"])
        if noises.fingerprint(name) != row["noise_fingerprint"]:
            raise ValueError(f"noise {name!r}: the manifest was made with a recording of fingerprint "
                             f"{row['noise_fingerprint']}, this one ({noises.source(name)}) has "
                             f"{noises.fingerprint(name)}")
        wave = clip.waveform(FEATURES.sample_rate)
        if wave.shape[0] != int(row["clip_samples"]):
            raise ValueError(f"clip {clip.name}: expected {row['clip_samples']} samples as in the manifest, "
                             f"got {wave.shape[0]}")
        reference = snr_reference(row.get("snr_reference") or None)
        mixture, measured = mix_clip(wave, noises.recording(name), int(row["noise_offset"]), float(row["snr_db"]),
                                     reference=reference)
        expected = float(row["measured_snr_db"]) if str(row["measured_snr_db"]) != "" else math.nan
        if not (math.isclose(measured, expected, abs_tol=1e-3) or (math.isnan(measured) and math.isnan(expected))):
            raise ValueError(f"clip {clip.name}: SNR after mixing {measured:.6f} dB, the manifest says {expected}")
        feats.append(features_from_waveform(mixture, FEATURES.sample_rate, cfg))
        labels.append(clip.label)
        names.append(clip.name)
    shape = (0, FEATURES.n_mels, FEATURES.n_frames)
    return FeatureDataset(np.stack(feats) if feats else np.zeros(shape, np.float32), labels, names)
