"""Noise folders as people have them: arbitrary names, NOISEX-92 as distributed (.mat, upper-case
suffixes, all 15 files), mixed folders, and errors that name the file and say why."""
import numpy as np
import pytest
import scipy.io
import soundfile

from audiodata import NoiseBank, extract, load_splits, noisex, resolve_paper_noises
from audiodata.io import read_audio

RATE = noisex.SAMPLE_RATE


def noise(seconds, seed, rate=RATE):
    return (0.2 * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


def int16(wave):
    return np.round(wave * 32767).astype(np.int16)


def write_noisex_folder(folder, seconds=3.0):
    """A NOISEX-style folder mixing .mat files (the distributed form) and upper/lower-case .wav/.flac."""
    folder.mkdir()
    waves = {}
    for i, stem in enumerate(noisex.FILES):
        waves[stem] = noise(seconds, i)
    scipy.io.savemat(folder / "babble.mat", {"babble": int16(waves["babble"])})       # NOISEX-92's form
    scipy.io.savemat(folder / "Leopard.MAT", {"x": int16(waves["leopard"])})          # the only vector
    scipy.io.savemat(folder / "pink.mat", {"pink": int16(waves["pink"][:8000 * 3]), "fs": 8000})  # own rate
    scipy.io.savemat(folder / "destroyerops.mat", {"destroyerops": waves["destroyerops"].astype(np.float64)})
    soundfile.write(folder / "F16.WAV", waves["f16"], RATE, subtype="PCM_16")
    soundfile.write(folder / "factory1.wav", waves["factory1"], RATE, subtype="PCM_16")
    soundfile.write(folder / "Factory2.FLAC", waves["factory2"], RATE, subtype="PCM_16")
    soundfile.write(folder / "destroyerengine.flac", waves["destroyerengine"], RATE, subtype="PCM_24")
    (folder / "README.txt").write_text("NOISEX-92, see http://spib.linse.ufsc.br/noise.html")
    (folder / ".DS_Store").write_bytes(b"\x00\x01binary")
    (folder / "._babble.mat").write_bytes(b"\x00\x05\x16\x07 resource fork")
    return waves


def test_noisex_folder_mixed_mat_and_any_case_wav_flac(tmp_path):
    waves = write_noisex_folder(tmp_path / "noisex")
    bank = NoiseBank(tmp_path / "noisex")
    assert bank.names == ("babble", "destroyerengine", "destroyerops", "f16", "factory1", "factory2", "leopard",
                          "pink")
    # a .mat int16 vector reads like the same samples in a 16-bit WAV: scaled to [-1, 1), resampled from 19.98 kHz
    soundfile.write(tmp_path / "babble_ref.wav", int16(waves["babble"]), RATE, subtype="PCM_16")
    expected = read_audio(tmp_path / "babble_ref.wav", 16000)
    got = bank.recording("Babble")
    assert got.dtype == np.float32 and got.shape == expected.shape == (round(3.0 * 16000),)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert bank.recording("leopard").shape == (48000,)                # the only vector, default rate
    assert bank.recording("pink").shape == (48000,)                   # 3 s at the file's own 8 kHz
    np.testing.assert_allclose(bank.recording("destroyerops"), read_audio_like(waves["destroyerops"], tmp_path),
                               atol=1e-6)
    assert bank.source("f16") == "F16.WAV" and bank.source("leopard") == "Leopard.MAT"
    assert resolve_paper_noises(bank.names) == ("babble", "f16", "factory1", "factory2", "leopard", "pink",
                                                "destroyerengine")
    assert resolve_paper_noises(bank.names, destroyer="destroyerops")[-1] == "destroyerops"
    assert bank.select("paper") == resolve_paper_noises(bank.names)
    assert bank.select(["paper", "destroyerops"])[-2:] == ("destroyerengine", "destroyerops")


def read_audio_like(wave, tmp_path):
    soundfile.write(tmp_path / "ref.wav", wave, RATE, subtype="FLOAT")
    return read_audio(tmp_path / "ref.wav", 16000)


def test_noisy_test_sets_from_a_noisex_folder_and_an_arbitrary_one(tmp_path):
    write_noisex_folder(tmp_path / "noisex")
    real = tmp_path / "real"
    real.mkdir()
    for i, name in enumerate(["crowd.wav", "Water.WAV", "wind.flac", "fire engine.wav"]):
        soundfile.write(real / name, noise(2.5, 20 + i, 44100), 44100)
    for folder, noises, names in [
            (tmp_path / "noisex", "paper", ("babble", "f16", "factory1", "factory2", "leopard", "pink",
                                            "destroyerengine")),
            (real, None, ("crowd", "fire engine", "water", "wind"))]:
        # the log-Mel reading, for which the 0.02 threshold below was set (power Mel features move less)
        splits = load_splits(noise_dir=folder, noises=noises, cache_dir=tmp_path / "cache", seed=1,
                             clips_per_class=1, workers=1, progress=False, features="logmel")
        assert splits.noise_names == names
        for name in names:
            noisy = splits.noisy_test(name.upper(), 0)
            assert noisy.features.shape == splits.test.features.shape
            assert np.mean(np.abs(noisy.features.numpy() - splits.test.features.numpy())) > 0.02
            rows = splits.mixtures(name, 0)
            assert {r["noise_file"] for r in rows} == {splits.noises.source(name)}
            assert all(abs(r["measured_snr_db"]) < 0.01 for r in rows)


def test_paper_noises_missing_from_a_folder_name_what_is_missing(tmp_path):
    soundfile.write(tmp_path / "babble.wav", noise(1, 0), RATE)
    soundfile.write(tmp_path / "destroyerops.wav", noise(1, 1), RATE)
    with pytest.raises(ValueError, match=r"need recordings named f16, factory1, factory2, leopard, pink, "
                                         r"destroyerengine \(the paper's destroyer is destroyerengine by default"):
        NoiseBank(tmp_path).select(["paper"])
    assert resolve_paper_noises(["Destroyer", *noisex.PAPER_NOISES[:-1]])[-1] == "destroyer"
    with pytest.raises(ValueError, match="destroyer: expected one of destroyerengine, destroyerops"):
        resolve_paper_noises(noisex.FILES, destroyer="frigate")


def test_two_files_with_one_name_are_an_error_naming_both(tmp_path):
    soundfile.write(tmp_path / "babble.wav", noise(1, 0), RATE)
    scipy.io.savemat(tmp_path / "Babble.mat", {"babble": int16(noise(1, 1))})
    with pytest.raises(ValueError, match=r"babble\.wav and Babble\.mat both give the noise name 'babble'|"
                                         r"Babble\.mat and babble\.wav both give the noise name 'babble'"):
        NoiseBank(tmp_path)


@pytest.mark.parametrize("write,reason", [
    (lambda p: scipy.io.savemat(p / "hum.mat", {"a": np.ones(100), "b": np.ones(50)}),
     r"hum\.mat cannot be used: expected one numeric vector named 'hum' or a single numeric vector; "
     r"found a \(100,\), b \(50,\)"),
    (lambda p: scipy.io.savemat(p / "hum.mat", {"hum": np.ones((20, 30))}),
     r"hum\.mat cannot be used: variable 'hum' has shape \(20, 30\); expected a vector"),
    (lambda p: scipy.io.savemat(p / "hum.mat", {"hum": np.ones(100), "fs": np.array([1.0, 2.0])}),
     r"hum\.mat cannot be used: variable 'fs' looks like a sample rate"),
    (lambda p: (p / "hum.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated"), r"hum\.mat cannot be used: not a"),
    (lambda p: (p / "hum.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage"), r"hum\.wav cannot be used: "
                                                                                     r"unreadable"),
    (lambda p: soundfile.write(p / "hum.wav", np.zeros(1000), 8000), r"hum\.wav cannot be used: it is silent"),
])
def test_an_unusable_recording_is_an_error_naming_it_and_why(tmp_path, monkeypatch, write, reason):
    write(tmp_path)
    bank = NoiseBank(tmp_path)
    assert bank.names == ("hum",)
    with pytest.raises(ValueError, match=reason):
        bank.recording("hum")
    # load_splits says so before extracting anything
    monkeypatch.setattr(extract, "extract_clean", lambda *a, **k: pytest.fail("extracted before the noise check"))
    with pytest.raises(ValueError, match=reason):
        load_splits(noise_dir=tmp_path, cache_dir=tmp_path / "cache", clips_per_class=1, progress=False)
