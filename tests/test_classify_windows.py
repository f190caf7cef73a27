"""Recordings longer than a clip: classify.py window by window (audiodata.windows), read block by block so that
memory does not grow with the recording's length; files up to 4 s stay the paper's zero-padded clips."""
import csv
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile
import torch

import audiodata
from audiodata.windows import window_starts, windows
from deployment import trained_model

from helpers.train_cli import ROOT, run

RATE, WINDOW = audiodata.FEATURES.sample_rate, audiodata.FEATURES.n_samples


def write(path, seconds, rate=44100, channels=1, seed=0):
    wave = np.random.default_rng(seed).normal(0, 0.1, (round(seconds * rate), channels))
    wave[:, 0] += 0.2 * np.sin(np.arange(len(wave)) * 2 * np.pi * 440 / rate) * (np.arange(len(wave)) % rate < rate // 3)
    soundfile.write(path, wave, rate)
    return path


def reference_windows(path, hop_seconds, cfg):
    """Each window from the whole file read at once: read_audio, then cut at window_starts."""
    whole = audiodata.read_audio(path, RATE)
    if len(whole) <= WINDOW:
        return [(0.0, len(whole) / RATE, audiodata.features_from_file(path, cfg))]
    return [(s / RATE, (s + WINDOW) / RATE, audiodata.features_from_waveform(whole[s:s + WINDOW], RATE, cfg))
            for s in window_starts(len(whole), WINDOW, round(hop_seconds * RATE))]


@pytest.mark.parametrize("n, hop", [(10, 4), (8, 4), (4, 4), (3, 4), (11, 3), (23, 5), (9, 2), (30, 7)])
def test_window_starts_cover_the_recording_with_full_windows(n, hop):
    starts = window_starts(n, 4, hop)
    if n <= 4:
        assert starts == [0]  # one clip, zero padded
        return
    assert starts[:-1] == [i * hop for i in range(len(starts) - 1)]  # regular windows from the start
    assert starts[-1] + 4 == n  # the last one ends at the end of the recording
    assert len(starts) == 1 or 0 < starts[-1] - starts[-2] <= hop  # regular, or moved back to fit
    if hop <= 4:  # then every sample is seen
        seen = np.zeros(n, bool)
        for s in starts:
            seen[s:s + 4] = True
        assert seen.all()


@pytest.mark.parametrize("seconds, rate, channels, hop", [
    (10.3, 44100, 2, 4), (13, 16000, 1, 1.5), (4.0, 22050, 1, 4), (3, 16000, 1, 4), (2.5, 48000, 2, 1)])
def test_windows_are_the_whole_file_cut_into_clips(tmp_path, seconds, rate, channels, hop):
    path = write(tmp_path / "a.wav", seconds, rate, channels)
    cfg = audiodata.feature_config(None)
    got, want = list(windows(path, hop, cfg)), reference_windows(path, hop, cfg)
    assert [(s, e) for s, e, _ in got] == [(s, e) for s, e, _ in want]
    for (_, _, a), (_, _, b) in zip(got, want):
        assert np.array_equal(a, b)  # soxr's stream resampler gives the whole file's samples exactly


def peak_traced_bytes(path):
    tracemalloc.start()
    for _ in windows(path, 4.0):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_does_not_grow_with_the_recording(tmp_path):
    short, long = write(tmp_path / "60s.wav", 60), write(tmp_path / "240s.wav", 240)
    peak_traced_bytes(short)  # the first run imports and caches (librosa, the filterbank): not the recording's
    peaks = [peak_traced_bytes(p) for p in (short, long)]
    whole = 240 * 44100 * 4  # the long file's samples as float32: what reading it at once would hold
    assert peaks[1] < 1.1 * peaks[0], peaks  # four times longer, the same peak
    assert peaks[1] < whole / 4, (peaks, whole)


def expected(run_dir, path, hop):
    """(start, end, probabilities) of each window with the run's model in eager mode on reference_windows."""
    trained = trained_model.load(trained_model.find(run_dir, None))
    out = []
    for start, end, features in reference_windows(path, hop, audiodata.feature_config(trained.features)):
        with torch.no_grad():
            p = torch.softmax(trained.model(torch.from_numpy(features)[None, None]), 1)[0]
        out.append((start, end, p))
    return trained.class_names, out


@pytest.mark.slow
def test_a_long_recording_gets_one_line_per_window(tiny_run, tmp_path):
    path = write(tmp_path / "street.wav", 10.3, 22050, 2)
    table = tmp_path / "windows.csv"
    proc = run("classify.py", "--checkpoint", tiny_run, "--top-k", "2", "--hop", "3", "--out", table, path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-3000:]
    names, want = expected(tiny_run, path, 3)
    lines = proc.stdout.strip().splitlines()[1:-1]
    assert len(lines) == len(want) == 4  # 0-4, 3-7, 6-10, 6.3-10.3
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    for line, row, (start, end, p) in zip(lines, rows, want):
        top = p.topk(2).indices.tolist()
        assert line == (f"{path} [{start:.2f}-{end:.2f} s]: "
                        + " | ".join(f"{names[i]} (p = {float(p[i]):.3f})" for i in top))
        assert (row["status"], float(row["start"]), float(row["end"])) == ("ok", pytest.approx(start),
                                                                           pytest.approx(end))
        assert [row["class_1"], row["class_2"]] == [names[i] for i in top]
        assert [float(row["p_1"]), float(row["p_2"])] == pytest.approx([float(p[i]) for i in top], abs=1e-6)

    proc = run("classify.py", "--checkpoint", tiny_run, "--top-k", "3", "--hop", "3", "--summary", path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    mean = torch.stack([p for _, _, p in want]).double().mean(0)
    top = mean.topk(3).indices.tolist()
    assert proc.stdout.splitlines()[1] == f"{path}: " + " | ".join(f"{names[i]} (p = {mean[i]:.3f})" for i in top)


@pytest.mark.slow
def test_a_long_recording_has_a_progress_bar_unless_quiet(tiny_run, tmp_path):
    path = write(tmp_path / "long.wav", 70, 16000)
    loud = run("classify.py", "--checkpoint", tiny_run, "--summary", path)
    quiet = run("classify.py", "--checkpoint", tiny_run, "--summary", "--quiet", path)
    assert loud.returncode == 0 and quiet.returncode == 0, loud.stderr[-3000:]
    assert "/18 " in loud.stderr and "window" in loud.stderr  # 17 windows side by side + the one at the end
    assert quiet.stderr == "" and quiet.stdout == loud.stdout


PEAK_RSS = """import runpy, sys
sys.argv = [{script!r}] + sys.argv[1:]
try:
    runpy.run_path({script!r}, run_name="__main__")
    code = 0
except SystemExit as e:
    code = e.code
# VmHWM: this process's own peak (getrusage's ru_maxrss keeps the parent's across fork and exec)
print("peak", next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.slow
def test_classify_memory_does_not_grow_with_the_recording(tiny_run, tmp_path):
    """Peak RSS of classify.py on a 2 min and a 10 min recording (44.1 kHz; both fill whole batches of windows):
    the 10 min file read whole would add at least its float32 samples, 106 MB."""
    peaks = []
    for seconds in (120, 600):
        path = write(tmp_path / f"{seconds}.wav", seconds)
        code = PEAK_RSS.format(script=str(ROOT / "experiments" / "classify.py"))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", code, "--checkpoint", tiny_run, "--quiet", "--summary", path],
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0 and "VmHWM:" in proc.stderr, proc.stderr[-3000:]
        peaks.append(int(proc.stderr.split("VmHWM:")[1].split()[0]) * 1024)
    # Half of the 106 MB a whole read adds: in a full-suite run the peaks differed by 33.5 MB once (allocator
    # noise between two processes; 32 MiB was too tight), in isolation by less.
    assert peaks[1] - peaks[0] < 53 * 10**6, peaks
