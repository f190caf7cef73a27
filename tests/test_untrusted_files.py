"""Files from elsewhere are data, never code: a pickle payload passed as a model file, a training checkpoint or a
classifier-cache entry is refused with one line before anything in it runs, and every .pt file the project writes
loads with ``torch.load(weights_only=True)``."""
import json
import pickle
import shutil
import subprocess
import zipfile

import numpy as np
import pytest
import soundfile
import torch

from training import classifier_cache
from training.engine import checkpoint

from helpers.train_cli import TINY, run, train

PAYLOAD_GLOBAL = f"{open.__module__}.{open.__name__}"  # what the error names (io.open)


class Payload:
    """Unpickled, it creates ``marker``: what a malicious file does (``os.system`` in the wild)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def write_payload(path, marker):
    """A file shaped like a model file or checkpoint of train.py, with a payload inside."""
    torch.save({"method": "sfe", "config": "small", "class_names": ["a"], "n_mels": 40, "state_dict": {},
                "stage": "sfe", "done": True, "model": {}, "extra": Payload(marker)}, path)
    return path


def assert_refused_in_one_line(proc, path, marker):
    assert not marker.exists(), "the payload ran"
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    error = proc.stderr.strip().splitlines()[-1]  # after train.py's progress bars, if any
    assert ": error: " in error and str(path) in error and PAYLOAD_GLOBAL in error, proc.stderr[-3000:]


@pytest.fixture
def clip(tmp_path):
    soundfile.write(tmp_path / "clip.wav", np.random.default_rng(0).normal(0, 0.1, 16000), 16000)
    return tmp_path / "clip.wav"


def test_a_payload_model_file_is_refused_by_classify(tmp_path, clip):
    marker = tmp_path / "marker"
    path = write_payload(tmp_path / "dsl.pt", marker)
    proc = run("classify.py", "--checkpoint", path, clip)
    assert_refused_in_one_line(proc, path, marker)


def test_a_payload_model_file_is_refused_by_export(tmp_path):
    marker = tmp_path / "marker"
    path = write_payload(tmp_path / "dsl.pt", marker)
    proc = run("export.py", "--checkpoint", path, "--out", tmp_path / "m.pt2")
    assert_refused_in_one_line(proc, path, marker)
    assert not (tmp_path / "m.pt2").exists()


@pytest.mark.parametrize("writer", ["torch.save", "torch.save, legacy format", "pickle.dump"])
def test_a_payload_checkpoint_is_refused(tmp_path, writer):
    marker = tmp_path / "marker"
    path = tmp_path / "stage.pt"
    if writer == "torch.save":
        write_payload(path, marker)
    elif writer == "pickle.dump":
        path.write_bytes(pickle.dumps({"epoch": 0, "extra": Payload(marker)}))
    else:
        torch.save({"epoch": 0, "extra": Payload(marker)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(checkpoint.RefusedFile) as e:
        checkpoint.load(path)
    assert not marker.exists(), "the payload ran"
    assert str(e.value).startswith(f"{path} is refused: ") and "\n" not in str(e.value)
    if writer != "pickle.dump":  # a plain pickle stops the weights-only loader before it reads a name
        assert PAYLOAD_GLOBAL in str(e.value)


@pytest.mark.slow
def test_resume_refuses_a_payload_checkpoint(tiny_run, train_cache, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    for done in ("sfe.results.json", "done.json"):  # as if interrupted before SFE was evaluated
        (out / "checkpoints" / done).unlink()
    marker = tmp_path / "marker"
    path = write_payload(out / "checkpoints" / "sfe.pt", marker)
    proc = train(out, train_cache, "--method", "sfe", "--epochs", "1", "--resume")
    assert_refused_in_one_line(proc, path, marker)


def test_a_payload_cache_entry_is_never_copied(tmp_path):
    marker = tmp_path / "marker"
    entry = write_payload(tmp_path / "cnn-fc-small-0123.pt", marker)
    with pytest.raises(checkpoint.RefusedFile, match=PAYLOAD_GLOBAL):
        classifier_cache.copy(entry, tmp_path / "run" / "cnn-fc.pt")
    assert not marker.exists() and not (tmp_path / "run" / "cnn-fc.pt").exists()


@pytest.mark.slow
def test_training_refuses_a_payload_in_the_classifier_cache(tiny_run, train_cache, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(train_cache, cache)  # holds the classifier tiny_run trained, under its cache key
    entries = sorted((cache / "classifiers").glob("*.pt"))
    assert entries
    marker = tmp_path / "marker"
    for entry in entries:
        write_payload(entry, marker)
    proc = run("train.py", "--out", tmp_path / "run", "--cache-dir", cache, *TINY, "--method", "sfe", "--epochs", "1")
    assert_refused_in_one_line(proc, cache / "classifiers", marker)


@pytest.mark.slow
def test_every_pt_file_a_run_writes_loads_weights_only(tiny_run, train_cache):
    files = sorted(tiny_run.rglob("*.pt")) + sorted((train_cache / "classifiers").glob("*.pt"))
    assert {p.parent.name for p in files} >= {"models", "classifiers"}
    for path in files:
        saved = torch.load(path, weights_only=True)
        assert isinstance(saved, dict) and saved, path
    model = torch.load(tiny_run / "models" / "sfe.pt", weights_only=True)
    assert model["method"] == "sfe" and all(isinstance(v, torch.Tensor) for v in model["state_dict"].values())


def test_classify_help_says_a_package_runs_code():
    proc = run("classify.py", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "compiled code" in text and "trusted source" in text and "docs/security.md" in text


METADATA = {"dyconv.method": "sfe", "dyconv.config": "small", "dyconv.class_names": '["a", "b"]',
            "dyconv.n_mels": "40", "dyconv.n_frames": "248", "dyconv.device": "cpu"}


def shared_object(tmp_path, marker):
    """A shared library that creates ``marker`` as soon as it is loaded (its constructor)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    src = tmp_path / "evil.c"
    src.write_text('#include <stdio.h>\n__attribute__((constructor)) static void run(void) '
                   f'{{ FILE *f = fopen("{marker}", "w"); if (f) fclose(f); }}\n')
    subprocess.run([compiler, "-shared", "-fPIC", "-o", tmp_path / "evil.so", src], check=True)
    return (tmp_path / "evil.so").read_bytes()


@pytest.mark.parametrize("layout", ["no dyconv metadata", "a second shared object", "a pickle beside the model"])
def test_a_pt2_that_export_did_not_write_is_refused_before_any_shared_object_loads(tmp_path, clip, layout):
    marker = tmp_path / "marker"
    so = shared_object(tmp_path, marker)
    package = tmp_path / "model.pt2"
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("model/archive_format", "pt2")
        z.writestr("model/archive_version", "1")
        z.writestr("model/data/aotinductor/model/wrapper.so", so)
        if layout == "no dyconv metadata":
            z.writestr("model/data/aotinductor/model/wrapper_metadata.json", json.dumps({"AOTI_DEVICE_KEY": "cpu"}))
        else:
            z.writestr("model/data/aotinductor/model/wrapper_metadata.json", json.dumps(METADATA))
        if layout == "a second shared object":
            z.writestr("model/data/extra/hook.so", so)
        if layout == "a pickle beside the model":  # torch's loader unpickles weights it finds, without weights_only
            z.writestr("model/data/weights/weight_0", pickle.dumps(Payload(marker)))
    proc = run("classify.py", "--checkpoint", package, clip)
    assert not marker.exists(), "a shared object of the package was loaded"
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "is not a model package written by export.py" in proc.stderr and str(package) in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
