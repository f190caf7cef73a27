"""The UrbanSound8K layout: <root>/metadata/UrbanSound8K.csv and <root>/audio/fold1..10/."""
import csv
from pathlib import Path

from .clips import Clip
from .config import ALL_FOLDS, CLASS_NAMES

METADATA = Path("metadata") / "UrbanSound8K.csv"
COLUMNS = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")
SOURCE_VERSION = 2  # in the cache key: 2 = clips truncated below their metadata duration are skipped


def find_root(data_root):
    """The UrbanSound8K folder: ``data_root`` itself or its ``UrbanSound8K`` subfolder."""
    data_root = Path(data_root).expanduser()
    for candidate in (data_root, data_root / "UrbanSound8K"):
        if (candidate / METADATA).is_file():
            return candidate
    raise FileNotFoundError(
        f"UrbanSound8K metadata not found: expected {data_root / METADATA} "
        f"(or {data_root / 'UrbanSound8K' / METADATA}); pass the UrbanSound8K folder or its parent")


def _int(row, column, line, path):
    try:
        return int(row[column])
    except (TypeError, ValueError):
        raise ValueError(f"{path}, line {line}: column {column!r} expected an integer, "
                         f"got {row[column]!r}") from None


def _duration(row, line, path):
    """``end - start`` in seconds, or None when the metadata has no start/end columns."""
    if row.get("start") in (None, "") or row.get("end") in (None, ""):
        return None
    try:
        start, end = float(row["start"]), float(row["end"])
    except ValueError:
        raise ValueError(f"{path}, line {line}: columns 'start' and 'end' expected numbers of seconds, "
                         f"got {row['start']!r} and {row['end']!r}") from None
    if not end > start >= 0:
        raise ValueError(f"{path}, line {line}: expected 0 <= start < end, got start {start}, end {end}")
    return end - start


def read_metadata(data_root):
    """Clips listed in the metadata, and ``(file, reason)`` for listed files that are missing.

    Raises FileNotFoundError naming the expected path when the metadata file, the audio folder or
    a fold folder is missing, ValueError for a malformed metadata file.
    """
    root = find_root(data_root)
    meta_path = root / METADATA
    audio = root / "audio"
    if not audio.is_dir():
        raise FileNotFoundError(f"UrbanSound8K audio folder not found: expected {audio}")
    clips, missing = [], []
    with open(meta_path, newline="") as f:
        reader = csv.DictReader(f)
        absent = [c for c in ("slice_file_name", "fold", "classID") if c not in (reader.fieldnames or [])]
        if absent:
            raise ValueError(f"{meta_path}: expected columns {', '.join(COLUMNS)}; missing {', '.join(absent)}")
        for line, row in enumerate(reader, start=2):
            fold, label = _int(row, "fold", line, meta_path), _int(row, "classID", line, meta_path)
            if fold not in ALL_FOLDS or not 0 <= label < len(CLASS_NAMES):
                raise ValueError(f"{meta_path}, line {line}: expected fold 1-10 and classID 0-9, "
                                 f"got fold {fold}, classID {label}")
            fold_dir = audio / f"fold{fold}"
            if not fold_dir.is_dir():
                raise FileNotFoundError(f"UrbanSound8K fold folder not found: expected {fold_dir}")
            name = f"fold{fold}/{row['slice_file_name']}"
            path = audio / name
            if path.is_file():
                clips.append(Clip(name=name, fold=fold, label=label, path=str(path),
                                  duration=_duration(row, line, meta_path)))
            else:
                missing.append((name, "listed in the metadata but not found on disk"))
    return clips, missing


def file_signature(clip):
    """What identifies a file's content for the cache key: its name, size and metadata duration."""
    return [clip.name, clip.fold, clip.label, Path(clip.path).stat().st_size, clip.duration]
