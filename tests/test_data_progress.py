"""audiodata/progress.py: a bar on a terminal, plain lines in a file or pipe, no remaining time before a few items."""
import io
import re
import sys

import pytest
from tqdm import tqdm

from audiodata import progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


LINE = re.compile(r"^run: +(\d+)% (\d+)/(\d+) \[\d\d:\d\d<(\?|\d\d:\d\d), .*\]$")


def _lines(text):
    """(percent, n, total, remaining) of each plain line; every line must have that form."""
    assert "\r" not in text and text.endswith("\n")
    matches = [LINE.match(line) for line in text.splitlines()]
    assert all(matches), text
    return [(int(m[1]), int(m[2]), int(m[3]), m[4]) for m in matches]


def test_a_file_gets_one_line_per_tenth(monkeypatch):
    monkeypatch.setattr(progress, "_now", lambda: 0.0)
    out = io.StringIO()
    for _ in progress.bar(range(40), file=out, desc="run"):
        pass
    lines = _lines(out.getvalue())
    assert [(p, n, t) for p, n, t, _ in lines] == [(10 * k, 4 * k, 40) for k in range(1, 11)]


@pytest.mark.parametrize("stream", [io.StringIO, FakeTerminal])
def test_no_remaining_time_before_three_items(stream):
    out = stream()
    with progress.bar(total=10, file=out, desc="run", mininterval=0) as b:
        for _ in range(10):
            b.update()
    frames = [f for f in re.split(r"[\r\n]", out.getvalue()) if "/10 [" in f]  # bar frames or plain lines
    done = [int(re.search(r"(\d+)/10", f)[1]) for f in frames]
    assert set(done) == set(range(0 if stream is FakeTerminal else 1, 11))
    assert [re.search(r"<(\?|\d\d:\d\d),", f)[1] == "?" for f in frames] == [n < progress.ETA_AFTER for n in done]


def test_a_file_gets_a_line_every_30_seconds_and_one_where_it_stopped(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress, "_now", lambda: clock[0])
    out = io.StringIO()
    with progress.bar(total=1000, file=out, desc="run") as b:
        for _ in range(22):
            clock[0] += 7.0  # a line after the 5th, 10th, 15th, 20th item; the bar closes at 22 of 1000
            b.update()
    assert [n for _, n, _, _ in _lines(out.getvalue())] == [5, 10, 15, 20, 22]


def test_messages_between_lines_leave_no_carriage_returns():
    out = io.StringIO()
    with progress.bar(total=4, file=out, desc="run") as b:
        for i in range(4):
            tqdm.write(f"message {i}", file=out)
            b.update()
    text = out.getvalue()
    assert "\r" not in text
    assert [line for line in text.splitlines() if line.startswith("message")] == [f"message {i}" for i in range(4)]
    assert [n for _, n, _, _ in _lines("".join(f"{x}\n" for x in text.splitlines() if x.startswith("run")))] == [
        1, 2, 3, 4]


@pytest.mark.parametrize("stream", [io.StringIO, FakeTerminal])
def test_a_disabled_bar_writes_nothing(stream):
    out = stream()
    for _ in progress.bar(range(5), file=out, disable=True):
        pass
    assert out.getvalue() == ""


def test_a_terminal_gets_a_bar_redrawn_in_place():
    out = FakeTerminal()
    for _ in progress.bar(range(5), file=out, desc="run", mininterval=0):
        pass
    text = out.getvalue()
    assert text.count("\r") >= 6 and "\n" not in text.rstrip("\n")  # frames 0..5, cleared at the end
    assert "|" in text  # a bar


def test_extraction_counts_its_last_item_when_the_consumer_stops_there(monkeypatch):
    from audiodata import extract

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    results = extract.run(abs, [-1, -2, -3], workers=1, desc="run")
    assert [next(results) for _ in range(3)] == [1, 2, 3]  # never asks for a fourth
    results.close()
    assert _lines(sys.stderr.getvalue())[-1][:3] == (100, 3, 3)
