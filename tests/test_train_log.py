"""training/engine/log.py: lines to the terminal and to train.log; details on the terminal only when verbose."""
import pytest

from training.engine.log import Log


@pytest.mark.parametrize("verbose", [False, True])
def test_details_go_to_the_file_and_to_the_terminal_only_when_verbose(tmp_path, capsys, verbose):
    log = Log(verbose=verbose)
    log.detail("memory: before the folder exists")
    log("config: small")
    log.to_file(tmp_path / "train.log")
    log.detail("memory: after")
    shown = capsys.readouterr().out.splitlines()
    assert shown == (["memory: before the folder exists", "config: small", "memory: after"] if verbose else
                     ["config: small"])
    logged = [line.split(" ", 2)[2] for line in (tmp_path / "train.log").read_text().splitlines()]  # date time text
    assert logged == ["memory: before the folder exists", "config: small", "memory: after"]


def test_a_disabled_log_writes_nothing(tmp_path, capsys):
    log = Log(enabled=False, verbose=True)
    log.to_file(tmp_path / "train.log")
    log("x")
    log.detail("y")
    assert capsys.readouterr().out == "" and not (tmp_path / "train.log").exists()
