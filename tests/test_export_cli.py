"""experiments/export.py end to end: a tiny trained run -> AOTInductor package -> classify.py gives the
checkpoint's predictions; the package loads with torch and dyconv alone."""
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile

import audiodata
from helpers.train_cli import ROOT, run


@pytest.fixture(scope="module")
def package(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "sfe.pt2"
    proc = run("export.py", "--checkpoint", tiny_run, "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(rf"wrote {re.escape(str(out))} \(\d+\.\d MB\) in \d+ s;", proc.stdout)  # measured, not guessed
    assert "checked: same probabilities as the checkpoint" in proc.stdout
    return out


@pytest.mark.slow
def test_classify_with_the_package_gives_the_checkpoints_predictions(tiny_run, package, tmp_path):
    rng = np.random.default_rng(1)
    files = []
    for i in range(3):
        files.append(tmp_path / f"clip{i}.wav")
        soundfile.write(files[-1], rng.normal(0, 0.05 * (i + 1), 16000 * (2 + i)), 16000)
    from_checkpoint = run("classify.py", "--checkpoint", tiny_run, "--top-k", "10", *files)
    from_package = run("classify.py", "--checkpoint", package, "--top-k", "10", *files)
    assert from_checkpoint.returncode == 0 and from_package.returncode == 0, from_package.stderr[-3000:]
    reading = audiodata.feature_reading(None)  # the tiny run's, train.py's default; recorded in the package
    assert from_package.stdout.splitlines()[0] == (f"# sfe (small config) on {reading} features from {package} "
                                                   "(AOTInductor package)")
    assert from_package.stdout.splitlines()[1:] == from_checkpoint.stdout.splitlines()[1:]  # all 10 probabilities


@pytest.mark.slow
def test_package_loads_with_torch_and_dyconv_only(package, tmp_path):
    code = textwrap.dedent(f"""
        import sys, torch, dyconv
        model = torch._inductor.aoti_load_package({str(package)!r})
        meta = model.get_metadata()
        assert meta["dyconv.method"] == "sfe" and meta["dyconv.n_frames"] == "248", meta
        assert meta["dyconv.features"] == {audiodata.feature_reading(None)!r}, meta
        assert meta["dyconv.snr_reference"] == {audiodata.readings.DEFAULT_SNR_REFERENCE!r}, meta
        for batch in (1, 5):
            logits = model(torch.rand(batch, 1, 40, 248))
            assert logits.shape == (batch, 10), logits.shape
        try:
            model(torch.full((2, 1, 40, 248), float("nan")))
            raise SystemExit("a NaN input was accepted")
        except RuntimeError as e:
            assert "NaN or infinite" in str(e), e
        paper_code = {{"models", "training", "deployment", "audiodata"}}
        assert not paper_code & set(sys.modules), "the paper's code was imported"
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}/model.zip"], "--out must end in .pt2"),
    (["--out", "{package}"], "exists; pass --overwrite"),
    (["--out", "{tmp}/no/dir/m.pt2"], "does not exist"),
    (["--method", "dsl", "--out", "{tmp}/m.pt2"], "has no trained dsl model"),
])
def test_user_mistakes_exit_2_with_one_line(tiny_run, package, tmp_path, args, message):
    proc = run("export.py", "--checkpoint", tiny_run, *(a.format(tmp=tmp_path, package=package) for a in args))
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_classify_refuses_a_file_that_is_not_a_package(tiny_run, tmp_path):
    (tmp_path / "fake.pt2").write_text("not a zip")
    proc = run("classify.py", "--checkpoint", tmp_path / "fake.pt2", tmp_path / "fake.pt2")
    assert proc.returncode == 2 and "is not a model package written by export.py" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
