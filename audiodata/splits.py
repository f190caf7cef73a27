"""load_splits: the dataset (UrbanSound8K or the built-in synthetic set) as cached, fold-split
PyTorch datasets, and the test fold mixed with each noise at each SNR."""
import logging
import warnings

import numpy as np

from . import cache, extract, manifest
from .config import CLASS_NAMES, FEATURES, SNRS_DB, TEST_FOLDS
from .datasets import FeatureDataset
from .folds import fold_split
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


def _source(data_root, data_seed, clips_per_class):
    """(description, clips, skipped-before-reading, cache-key part)."""
    if data_root is None:
        from .synthetic import VERSION
        from .synthetic_set import synthetic_clips
        clips = synthetic_clips(data_seed, clips_per_class)
        n = len(clips) // (10 * len(CLASS_NAMES))
        return (f"built-in synthetic set (seed {data_seed}, {n} clips/class/fold)", clips, [],
                ["synthetic", VERSION, [c.name for c in clips]])
    if clips_per_class is not None:
        raise ValueError("clips_per_class: only for the built-in synthetic set; leave it None with data_root")
    from .urbansound8k import SOURCE_VERSION, file_signature, find_root, read_metadata
    clips, missing = read_metadata(data_root)
    root = find_root(data_root)
    return (f"UrbanSound8K at {root}", clips, missing,
            ["urbansound8k", SOURCE_VERSION, [file_signature(c) for c in clips]])


def _folds_text(folds):
    """"1-8" for a run of consecutive folds, else "1, 3, 4"."""
    if list(folds) == list(range(folds[0], folds[-1] + 1)):
        return f"{folds[0]}-{folds[-1]}"
    return ", ".join(map(str, folds))


class Splits:
    """The train, dev and test datasets of one fold split, and noisy versions of test.

    Attributes: ``train``/``dev``/``test`` (:class:`~audiodata.FeatureDataset`), ``class_names``,
    ``test_fold``, ``dev_fold``, ``train_folds``, ``seed`` (the noise offsets' seed), ``noises`` (the
    :class:`~audiodata.NoiseBank`, every recording available), ``noise_names`` (the noises in use, lower-case,
    in use order), ``test_clips`` (the test fold's clips, in ``test``'s order), ``skipped`` ((file, reason) of
    every clip left out), ``fingerprint`` (identifies the data, the folds and the seed: what a model trained
    on ``train`` depends on), ``cache_folder``.

    Disk: the clean features of all ten folds are one file shared by every split and seed. The noisy test
    sets of one (test fold, seed) are float32 .npy files, 35 x 39,680 bytes per test clip for 7 noises x 5
    SNRs; they stay cached for the next run until :meth:`release_noisy` deletes them (a 10-fold run calls it
    after each fold's evaluation, so at most one fold's noisy sets are on disk at a time).
    """

    def __init__(self, *, description, clips, features, labels, ok, skipped, noises, noise_names, folder,
                 fingerprint, seed, folds, workers, progress):
        self.class_names = list(CLASS_NAMES)
        self.fingerprint = fingerprint
        self.skipped = list(skipped)
        self.noises = noises
        self.noise_names = tuple(noise_names)
        self.seed = int(seed)
        self.test_fold, self.dev_fold, self.train_folds = folds
        self._description = description
        self.cache_folder = folder
        self._workers = workers
        self._progress = progress
        kept = [c for c, good in zip(clips, ok) if good]
        fold_of = np.array([c.fold for c in kept], dtype=np.int64)
        self.test_clips = [c for c in kept if c.fold == self.test_fold]
        self.train_clips = [c for c in kept if c.fold in self.train_folds]  # for noisy training copies

        def subset(fold_set):
            mask = np.isin(fold_of, fold_set)
            return FeatureDataset(features[mask], labels[mask], [c.name for c, m in zip(kept, mask) if m])

        self.train, self.dev, self.test = (subset(self.train_folds), subset([self.dev_fold]),
                                           subset([self.test_fold]))

    def describe(self):
        return (f"{self._description}: train {len(self.train)}, dev {len(self.dev)}, test {len(self.test)} clips "
                f"(folds {_folds_text(self.train_folds)} / {self.dev_fold} / {self.test_fold}); "
                f"{len(self.skipped)} file(s) skipped; {self.noises.describe()} ({', '.join(self.noise_names)}); "
                f"cache {self.cache_folder}")

    # --- noisy test sets -------------------------------------------------------------------------------

    def _noisy_folder(self):
        # the paper's test fold keeps the folder name it always had, so existing caches are reused
        tag = "" if self.test_fold == TEST_FOLDS[0] else f"fold{self.test_fold}-"
        return self.cache_folder / f"noisy-{tag}seed{self.seed}"

    def _noisy_path(self, noise, snr, suffix=".npy"):
        return self._noisy_folder() / f"{noise}-{self.noises.fingerprint(noise)}" / f"snr{snr:+.2f}{suffix}"

    def _mix_path(self, noise, snr):
        return self._noisy_path(noise, snr, ".mix.npz")

    def _check_noise(self, noise):
        name = self.noises.check(noise)
        if name not in self.noise_names:
            raise ValueError(f"noise: expected one of {', '.join(self.noise_names)} (the noises in use), "
                             f"got {noise!r}")
        return name

    def noisy_test(self, noise, snr_db):
        """The test fold mixed with ``noise`` at ``snr_db``. Cached; on the first request every noise in use
        is extracted at every SNR of SNRS_DB (and ``snr_db``) in one pass over the test clips."""
        snr = check_snr(snr_db)
        path = self._noisy_path(self._check_noise(noise), snr)
        if not path.is_file():
            self._extract_noisy(sorted({snr, *map(float, SNRS_DB)}, reverse=True), with_features=True)
        return FeatureDataset(np.load(path), self.test.labels.numpy(), self.test.names)

    def mixtures(self, noise, snr_db):
        """The mixing manifest of ``noisy_test(noise, snr_db)``: one dict per test clip with the fields of
        :data:`audiodata.manifest.FIELDS` (seed, test fold, noise, noise file and fingerprint, SNR, clip,
        label, clip length, noise offset, SNR measured after mixing). Stored next to the noisy set when it is
        extracted and kept by :meth:`release_noisy`; computed (mixing only, no features) when absent.
        :func:`audiodata.rebuild_noisy` turns the rows back into the noisy set."""
        snr = check_snr(snr_db)
        name = self._check_noise(noise)
        path = self._mix_path(name, snr)
        if not path.is_file():
            self._extract_noisy(sorted({snr, *map(float, SNRS_DB)}, reverse=True), with_features=False)
        arrays = cache.load_arrays(path)
        return manifest.rows(seed=self.seed, test_fold=self.test_fold, noise=name, noise_file=self.noises.source(name),
                             noise_fingerprint=self.noises.fingerprint(name), snr_db=snr, clips=self.test_clips,
                             offsets=arrays["offsets"], n_samples=arrays["n_samples"], measured=arrays["measured"])

    def noisy_bytes(self):
        """Bytes the noisy test sets of this test fold and seed take on disk now (all noises ever extracted)."""
        folder = self._noisy_folder()
        return sum(p.stat().st_size for p in folder.glob("*/*.npy")) if folder.is_dir() else 0

    def release_noisy(self):
        """Delete the cached noisy test sets of this test fold and seed (their mixing manifests, a few KB, stay);
        returns the bytes freed. A later :meth:`noisy_test` extracts them again, with identical features. Call
        it from one process once every process has evaluated (``noisy_test`` returns an in-memory copy, so
        datasets already obtained stay valid)."""
        freed = 0
        folder = self._noisy_folder()
        for path in sorted(folder.glob("*/*.npy")) if folder.is_dir() else ():
            freed += path.stat().st_size
            path.unlink(missing_ok=True)
        return freed

    def _extract_noisy(self, snrs, with_features):
        def missing(n, s):
            return not (self._noisy_path(n, s).is_file() if with_features else self._mix_path(n, s).is_file())

        names = [n for n in self.noise_names if any(missing(n, s) for s in snrs)]
        recordings = {n: self.noises.recording(n) for n in names}
        n_clips = len(self.test_clips)
        shape = (n_clips, FEATURES.n_mels, FEATURES.n_frames)
        outputs = {(n, s): cache.NpyWriter(self._noisy_path(n, s), shape)
                   for n in names for s in snrs} if with_features else {}
        offsets = np.zeros((len(names), n_clips), np.int64)
        n_samples = np.zeros(n_clips, np.int64)
        measured = np.zeros((len(names), len(snrs), n_clips), np.float64)
        results = extract.extract_noisy(self.test_clips, recordings, snrs, self.seed, part="test",
                                        with_features=with_features, workers=self._workers, progress=self._progress)
        try:
            for k, (clip, r) in enumerate(zip(self.test_clips, results)):
                if r.reason is not None:
                    raise RuntimeError(f"test clip {clip.name} became unreadable since its features were "
                                       f"cached ({r.reason}); delete {self.cache_folder} and rerun")
                offsets[:, k], measured[:, :, k], n_samples[k] = r.offsets, r.measured, r.n_samples
                if with_features:
                    for i, n in enumerate(names):
                        for j, s in enumerate(snrs):
                            outputs[n, s].array[k] = r.features[i, j]
        except BaseException:
            for writer in outputs.values():
                writer.discard()
            raise
        for i, n in enumerate(names):
            for j, s in enumerate(snrs):
                cache.save_arrays(self._mix_path(n, s), offsets=offsets[i], n_samples=n_samples,
                                  measured=measured[i, j])
        for writer in outputs.values():
            writer.commit()


def load_splits(data_root=None, *, noise_dir=None, noises=None, cache_dir=None, seed=0, data_seed=None,
                test_fold=10, dev_fold=None, clips_per_class=None, workers=2, progress=True):
    """The dataset as :class:`Splits`. ``data_root=None`` uses the built-in synthetic set.

    - ``noise_dir``: a folder of noise recordings (every audio or MATLAB .mat file in it, named by its stem
      lower-cased; NOISEX-92 as distributed works) or None for the built-in stand-ins of the paper's seven.
    - ``noises``: None = every noise available (a folder: all its recordings; built-in: the paper's seven),
      or a sequence of names (case-insensitive; or one comma-separated string; ``"paper"`` = the paper's
      seven, see :func:`audiodata.noisex.resolve_paper_noises`) that picks and orders a subset. Unknown
      names are a ValueError listing what exists.
    - ``seed``: the noisy test sets' noise offsets; for the built-in synthetic set also the data seed unless
      ``data_seed`` is given (so several seeds can share one data seed and compare on the same clips).
      ``data_seed`` is ignored for UrbanSound8K, whose clips are what they are.
    - ``test_fold`` 1-10 and ``dev_fold`` (default ``test_fold - 1``, 10 for test fold 1); train is the other
      eight folds. The defaults (10, 9) are the paper's split.

    Features are cached under ``cache_dir`` (default $DYCONV_CACHE or ~/.cache/dyconv) in a folder keyed by
    the data source, file list and feature parameters; the clean features of all folds are extracted once
    (for every split and seed), the noisy sets per test fold and seed (see :class:`Splits`). A second call
    with the same arguments loads them without extracting. Unreadable, empty, truncated or missing files are
    skipped, each logged with its reason, and counted in a warning and in ``describe()``.
    """
    folds = fold_split(test_fold, dev_fold)
    bank = NoiseBank(noise_dir, cache_dir)
    noise_names = bank.select(noises)
    bank.validate(noise_names)  # a noise file that cannot be used fails now, not after the clean extraction
    data_seed = seed if data_seed is None else data_seed
    description, clips, missing, source_key = _source(data_root, int(data_seed), clips_per_class)
    # clean features do not depend on the seed beyond the clip list (which has it for synthetic data),
    # so UrbanSound8K is extracted once for all seeds and folds; the noisy sets live under a per-seed folder
    features_key = cache.digest([cache.CACHE_VERSION, source_key, FEATURES.as_dict()])
    fingerprint = cache.digest([features_key, int(seed)] + ([] if folds == fold_split() else [list(folds[:2])]))
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
    return Splits(description=description, clips=clips, features=arrays["features"], labels=arrays["labels"],
                  ok=arrays["ok"], skipped=skipped, noises=bank, noise_names=noise_names, folder=folder,
                  fingerprint=fingerprint, seed=seed, folds=folds, workers=workers, progress=progress)
