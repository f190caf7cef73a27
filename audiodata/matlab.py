"""Audio stored as a MATLAB .mat file (NOISEX-92's original form): one numeric vector per file."""
from pathlib import Path

import numpy as np
import scipy.io

from .io import AudioReadError, resample

RATE_VARIABLES = ("fs", "sr", "srate", "rate", "samplerate", "sample_rate", "sampling_rate", "freq")


def _rate(variables, path):
    for key, value in variables.items():
        if key.lower() in RATE_VARIABLES:
            arr = np.asarray(value)
            if arr.size == 1 and np.issubdtype(arr.dtype, np.number) and float(arr.reshape(())) > 0:
                return float(arr.reshape(()))
            raise AudioReadError(path, f"variable {key!r} looks like a sample rate but is not one positive "
                                       f"number (got shape {arr.shape}, dtype {arr.dtype})")
    return None


def _to_float(vector, path, name):
    if np.issubdtype(vector.dtype, np.signedinteger):
        return vector.astype(np.float64) / float(np.iinfo(vector.dtype).max + 1)
    if np.issubdtype(vector.dtype, np.unsignedinteger):
        mid = float(np.iinfo(vector.dtype).max + 1) / 2
        return (vector.astype(np.float64) - mid) / mid
    if np.issubdtype(vector.dtype, np.floating):
        return vector.astype(np.float64)
    raise AudioReadError(path, f"variable {name!r} has dtype {vector.dtype}; expected integer or float samples")


def read_mat_audio(path, sample_rate, default_rate):
    """The one audio vector of a .mat file as mono float32 at ``sample_rate``.

    The vector is the variable named like the file (case-insensitive), else the only numeric variable
    with more than one element; int samples are scaled to [-1, 1). Its rate is a scalar variable named
    fs / sr / rate / sample_rate (and similar) when the file has one, else ``default_rate``.
    Raises :class:`~audiodata.io.AudioReadError` saying why a file cannot be used.
    """
    path = Path(path)
    try:
        variables = scipy.io.loadmat(str(path), squeeze_me=True)
    except NotImplementedError:
        raise AudioReadError(path, "MATLAB v7.3 (HDF5) file, which scipy cannot read; save it with "
                                   "save(..., '-v7') or convert it to WAV") from None
    except Exception as e:  # scipy's parser fails on damaged files with MatReadError, IndexError, ValueError...
        raise AudioReadError(path, f"not a readable MATLAB .mat file ({type(e).__name__}: {e})") from None
    variables = {k: v for k, v in variables.items() if not k.startswith("__")}
    vectors = {k: np.asarray(v) for k, v in variables.items()
               if isinstance(v, np.ndarray) and v.size > 1 and np.issubdtype(v.dtype, np.number)}
    named = [k for k in vectors if k.lower() == path.stem.lower()]
    if named:
        name = named[0]
    elif len(vectors) == 1:
        name = next(iter(vectors))
    else:
        found = ", ".join(f"{k} {vectors[k].shape}" for k in vectors) or "none"
        raise AudioReadError(path, f"expected one numeric vector named {path.stem!r} or a single numeric "
                                   f"vector; found {found}")
    data = vectors[name]
    if data.ndim != 1:
        raise AudioReadError(path, f"variable {name!r} has shape {data.shape}; expected a vector of samples")
    rate = _rate(variables, path) or default_rate
    wave = _to_float(data, path, name)
    if not np.all(np.isfinite(wave)):
        raise AudioReadError(path, f"variable {name!r} contains NaN or infinite samples")
    return resample(wave.astype(np.float32), rate, sample_rate)
