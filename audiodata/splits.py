"""load_splits: the dataset (UrbanSound8K or the built-in synthetic set) as cached, fold-split
PyTorch datasets, and fold 10 mixed with each noise at each SNR."""
import logging
import warnings

import numpy as np

from . import cache, extract
from .config import CLASS_NAMES, DEV_FOLDS, FEATURES, SNRS_DB, TEST_FOLDS, TRAIN_FOLDS
from .datasets import FeatureDataset
from .mixing import check_snr
from .noise import NoiseBank

log = logging.getLogger(__name__)


def _report_skipped(skipped, what):
    """Every skipped file by name and reason in the log, and one warning with the count."""
    for name, reason in skipped:
        log.warning("skipped %s: %s", name, reason)
    if skipped:
        shown = "; ".join(f"{n}: {r}" for n, r in skipped[:5])
        more = f"; ... ({len(skipped) - 5} more, see the log)" if len(skipped) > 5 else ""
        warnings.warn(f"{len(skipped)} audio file(s) skipped in {what}: {shown}{more}", stacklevel=3)


def _source(data_root, seed, clips_per_class):
    """(description, clips, skipped-before-reading, cache-key part)."""
    if data_root is None:
        from .synthetic import VERSION, synthetic_clips
        clips = synthetic_clips(seed, clips_per_class)
        n = len(clips) // (10 * len(CLASS_NAMES))
        return (f"built-in synthetic set (seed {seed}, {n} clips/class/fold)", clips, [],
                ["synthetic", VERSION, [c.name for c in clips]])
    if clips_per_class is not None:
        raise ValueError("clips_per_class: only for the built-in synthetic set; leave it None with data_root")
    from .urbansound8k import file_signature, find_root, read_metadata
    clips, missing = read_metadata(data_root)
    root = find_root(data_root)
    return (f"UrbanSound8K at {root}", clips, missing,
            ["urbansound8k", [file_signature(c) for c in clips]])


class Splits:
    """The train (folds 1-8), dev (9) and test (10) datasets, and noisy versions of test."""

    def __init__(self, description, clips, features, labels, ok, skipped, noises, folder, fingerprint, seed,
                 workers, progress):
        self.class_names = list(CLASS_NAMES)
        self.fingerprint = fingerprint
        self.skipped = list(skipped)
        self.noises = noises
        self._description = description
        self.cache_folder = folder
        self._seed = seed
        self._workers = workers
        self._progress = progress
        kept = [c for c, good in zip(clips, ok) if good]
        folds = np.array([c.fold for c in kept], dtype=np.int64)
        self._test_clips = [c for c in kept if c.fold in TEST_FOLDS]
        self.train_clips = [c for c in kept if c.fold in TRAIN_FOLDS]  # for noisy training copies

        def subset(fold_set):
            mask = np.isin(folds, fold_set)
            return FeatureDataset(features[mask], labels[mask], [c.name for c, m in zip(kept, mask) if m])

        self.train, self.dev, self.test = subset(TRAIN_FOLDS), subset(DEV_FOLDS), subset(TEST_FOLDS)

    def describe(self):
        return (f"{self._description}: train {len(self.train)}, dev {len(self.dev)}, test {len(self.test)} clips; "
                f"{len(self.skipped)} file(s) skipped; {self.noises.describe()}; cache {self.cache_folder}")

    def _noisy_path(self, noise, snr):
        return (self.cache_folder / f"noisy-seed{self._seed}" / f"{noise}-{self.noises.fingerprint(noise)}"
                / f"snr{snr:+.2f}.npy")

    def noisy_test(self, noise, snr_db):
        """Fold 10 mixed with ``noise`` at ``snr_db``. Cached; on the first request every noise is
        extracted at every SNR of SNRS_DB (and ``snr_db``) in one pass over the test clips."""
        snr = check_snr(snr_db)
        path = self._noisy_path(self.noises.check(noise), snr)
        if not path.is_file():
            self._extract_noisy(sorted({snr, *map(float, SNRS_DB)}, reverse=True))
        return FeatureDataset(np.load(path), self.test.labels.numpy(), self.test.names)

    def _extract_noisy(self, snrs):
        names = [n for n in self.noises.names if any(not self._noisy_path(n, s).is_file() for s in snrs)]
        recordings = {n: self.noises.recording(n) for n in names}
        shape = (len(self._test_clips), FEATURES.n_mels, FEATURES.n_frames)
        outputs = {(n, s): cache.NpyWriter(self._noisy_path(n, s), shape) for n in names for s in snrs}
        results = extract.extract_noisy(self._test_clips, recordings, snrs, self._seed, part="test",
                                        workers=self._workers, progress=self._progress)
        try:
            for k, (clip, (feats, reason)) in enumerate(zip(self._test_clips, results)):
                if reason is not None:
                    raise RuntimeError(f"test clip {clip.name} became unreadable since its features were "
                                       f"cached ({reason}); delete {self.cache_folder} and rerun")
                for i, n in enumerate(names):
                    for j, s in enumerate(snrs):
                        outputs[n, s].array[k] = feats[i, j]
        except BaseException:
            for writer in outputs.values():
                writer.discard()
            raise
        for writer in outputs.values():
            writer.commit()


def load_splits(data_root=None, *, noise_dir=None, cache_dir=None, seed=0, clips_per_class=None, workers=2,
                progress=True):
    """The dataset as :class:`Splits`. ``data_root=None`` uses the built-in synthetic set.

    Features are cached under ``cache_dir`` (default $DYCONV_CACHE or ~/.cache/dyconv) in a folder
    keyed by the data source, file list and feature parameters (the seed too for noisy sets); a second
    call with the same arguments loads them without extracting. Unreadable files are skipped, each
    logged with its reason, and counted in a warning and in ``describe()``.
    """
    noises = NoiseBank(noise_dir, cache_dir)
    description, clips, missing, source_key = _source(data_root, seed, clips_per_class)
    # clean features do not depend on the seed beyond the clip list (which has it for synthetic data),
    # so UrbanSound8K is extracted once for all seeds; the noisy sets live under a per-seed folder
    features_key = cache.digest([cache.CACHE_VERSION, source_key, FEATURES.as_dict()])
    fingerprint = cache.digest([features_key, int(seed)])
    folder = cache.cache_root(cache_dir) / features_key
    clean_path, skipped_path = folder / "clean.npz", folder / "skipped.json"
    if clean_path.is_file() and skipped_path.is_file():
        arrays = cache.load_arrays(clean_path)
        skipped = [tuple(s) for s in cache.load_json(skipped_path)]
    else:
        results = extract.extract_clean(clips, workers=workers, progress=progress)
        ok = np.array([r is not None for r, _ in results], dtype=bool)
        feats = [r for r, _ in results if r is not None]
        arrays = {"features": np.stack(feats) if feats else
                  np.zeros((0, FEATURES.n_mels, FEATURES.n_frames), np.float32),
                  "labels": np.array([c.label for c in clips], dtype=np.int64)[ok], "ok": ok}
        skipped = missing + [(c.name, reason) for c, (_, reason) in zip(clips, results) if reason is not None]
        cache.save_arrays(clean_path, **arrays)
        cache.save_json(skipped_path, skipped)
    _report_skipped(skipped, description)
    if arrays["ok"].shape[0] != len(clips):
        raise RuntimeError(f"feature cache {folder} does not match the clip list; delete it and rerun")
    return Splits(description, clips, arrays["features"], arrays["labels"], arrays["ok"], skipped, noises, folder,
                  fingerprint, seed, workers, progress)
