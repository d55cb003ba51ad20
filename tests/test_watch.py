"""`defectlab watch`: pictures that arrive while it runs are inspected once each, only when whole, into the
results database; a kill -9 and a restart lose none and store none twice; a burst stays within the bounded set of
waiting files. A cheap test task (tests/watch_task.py) stands in for the models: each picture carries its number,
and the task logs every number it inspects."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from watch_task import NAME, SPEC, make_run, picture_bytes

from shared.store import describe_runs, open_store
from shared.suite import registry, watch
from shared.suite.cli import main
from shared.suite.inspect import Inspector
from shared.suite.watch import Watcher, verdict

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--settle", "0.2", "--timeout", "30"]


@pytest.fixture
def shade(tmp_path, monkeypatch):
    """The test task registered, its run folder, and the log of the numbers it inspects."""
    registry.register(SPEC)
    log = tmp_path / "inspected.log"
    monkeypatch.setenv("WATCH_TASK_LOG", str(log))
    yield make_run(tmp_path / "run"), log
    registry.unregister(NAME)


def runs_words(run: Path) -> list[str]:
    return ["--tasks", NAME, "--runs", f"{NAME}={run}"]


def inspected(log: Path) -> Counter:
    return Counter(int(n) for n in log.read_text().split()) if log.exists() else Counter()


def stored(db: Path) -> list[dict]:
    with open_store(db, create=False) as store:
        return store.rows()


def write_later(folder: Path, numbers, pause: float = 0.02, light=lambda n: n % 2 == 1) -> threading.Thread:
    """A camera: pictures written one after another while the watch runs."""
    def write():
        for number in numbers:
            target = folder / f"{number:05d}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(picture_bytes(number, light(number)))
            time.sleep(pause)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_pictures_written_while_it_watches_are_inspected_once_and_sorted(shade, tmp_path, capsys):
    run, log = shade
    folder, db, sorted_ = tmp_path / "camera", tmp_path / "results.db", tmp_path / "camera" / "sorted"
    folder.mkdir()
    (folder / "00000.png").write_bytes(picture_bytes(0))  # there before the watch starts
    writer = write_later(folder, range(1, 20))
    later = write_later(folder / "day2", range(20, 25), pause=0.05)  # a folder made while it watches
    code = main(["watch", str(folder), "--db", str(db), *runs_words(run), "--sort-into", str(sorted_),
                 "--stop-after", "25", *FAST])
    writer.join(), later.join()
    out = capsys.readouterr().out
    assert code == 0 and "file events" in out and "[watch] stopped: 25 inspected" in out
    assert inspected(log) == Counter(range(25))  # each picture inspected once
    rows = stored(db)
    assert len(rows) == 25 and all(r["error"] is None for r in rows)
    assert {r[f"{NAME}_number"] for r in rows} == set(range(25))
    # one link per picture under its verdict, the same file; the sorted folder, inside the camera's, not watched
    links = sorted(p for p in sorted_.rglob("*.png"))
    assert len(links) == 25
    for link in links:
        shade_, *relative = link.relative_to(sorted_).parts
        assert shade_ == ("light" if int(link.stem) % 2 else "dark")
        assert os.path.samefile(link, folder.joinpath(*relative))
    assert (folder / "day2" / "00020.png").read_bytes() == picture_bytes(20)  # never changed


def test_a_half_written_picture_is_inspected_once_when_whole(shade, tmp_path, capsys):
    from PIL import Image

    run, log = shade
    folder, db = tmp_path / "camera", tmp_path / "results.db"
    folder.mkdir()
    whole = picture_bytes(7, size=64, noise=True)
    half = whole[:len(whole) // 2]
    with pytest.raises(OSError):  # what the watch would read too early
        Image.open(__import__("io").BytesIO(half)).load()

    def camera():
        target = folder / "00007.png"
        with target.open("wb") as stream:
            stream.write(half)
            stream.flush()
            time.sleep(1.0)  # longer than the settle time: the half file settles, fails to decode, and waits
            stream.write(whole[len(half):])

    thread = threading.Thread(target=camera)
    thread.start()
    code = main(["watch", str(folder), "--db", str(db), *runs_words(run), "--poll", "0.1", "--stop-after", "1",
                 *FAST])
    thread.join()
    captured = capsys.readouterr()
    assert code == 0 and "scanning every 0.1 s" in captured.out and "error" not in captured.err
    assert inspected(log) == Counter([7])
    (row,) = stored(db)
    assert row["error"] is None and (row["width"], row["height"]) == (64, 64)


def test_a_file_that_never_decodes_is_one_line_and_one_error_row(shade, tmp_path, capsys):
    run, log = shade
    folder, db, sorted_ = tmp_path / "camera", tmp_path / "results.db", tmp_path / "sorted"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"not a picture at all")
    (folder / "00003.png").write_bytes(picture_bytes(3))
    words = ["watch", str(folder), "--db", str(db), *runs_words(run), "--once", "--give-up", "0.3",
             "--sort-into", str(sorted_), *FAST]
    assert main(words) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if "broken.jpg" in line]
    assert len(lines) == 1 and "cannot decode" in lines[0] and "stored as an error" in lines[0]
    rows = {Path(r["image"]).name: r for r in stored(db)}
    assert set(rows) == {"broken.jpg", "00003.png"} and rows["broken.jpg"]["error"]
    assert (sorted_ / "error" / "broken.jpg").is_file() and (sorted_ / "dark" / "00003.png").is_file()

    # again: the database says both are done, by path; nothing is read, no line repeats
    assert main(words) == 0
    captured = capsys.readouterr()
    assert "broken.jpg" not in captured.err and "stopped: 0 inspected" in captured.out
    assert inspected(log) == Counter([3]) and len(stored(db)) == 2

    # a copy under another name is the same picture: known by content, not inspected
    (folder / "copy.png").write_bytes(picture_bytes(3))
    assert main(words) == 0
    assert "1 known by content" in capsys.readouterr().out and inspected(log) == Counter([3])


def test_kill_9_and_restart_lose_no_picture_and_store_none_twice(shade, tmp_path):
    run, first_log = shade
    folder, db, sorted_ = tmp_path / "camera", tmp_path / "results.db", tmp_path / "sorted"
    folder.mkdir()
    count = 60
    command = [sys.executable, str(ROOT / "tests" / "watch_task.py"), "watch", str(folder), "--db", str(db),
               *runs_words(run), "--sort-into", str(sorted_), "--batch-size", "4", "--settle", "0.1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WATCH_TASK_DELAY": "0.05"}
    watching = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        writer = write_later(folder, range(count), pause=0.1)  # still writing when it is killed
        deadline = time.monotonic() + 30
        while sum(inspected(first_log).values()) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watching.send_signal(signal.SIGKILL)
        watching.wait()
    writer.join()
    before = {Path(r["image"]).name for r in stored(db)}
    assert 0 < len(before) < count, watching.stdout.read().decode()

    second_log = tmp_path / "restart.log"
    done = subprocess.run([*command, "--once"], env={**env, "WATCH_TASK_LOG": str(second_log)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    again = inspected(second_log)
    # inspected again: exactly what the database did not hold (a batch inspected before the kill but not stored
    # among them), each once
    assert max(again.values()) == 1
    assert {f"{n:05d}.png" for n in again} == {f"{n:05d}.png" for n in range(count)} - before
    rows = stored(db)
    assert sorted(Path(r["image"]).name for r in rows) == [f"{n:05d}.png" for n in range(count)]  # each once
    assert len(list(sorted_.rglob("*.png"))) == count  # one link each, even for a batch linked before the kill


def test_a_burst_stays_within_the_waiting_bound(shade, tmp_path, monkeypatch):
    run, log = shade
    monkeypatch.setattr(watch, "MAX_WAITING", 40)  # events beyond it are dropped, then a rescan finds the files
    folder, db = tmp_path / "camera", tmp_path / "results.db"
    folder.mkdir()
    count, most = 300, []
    with open_store(db) as store:
        description = describe_runs({NAME: run})
        watcher = Watcher(folder, store, Inspector.from_runs({NAME: run}, batch_size=16), description, settle=0.2)
        step, scan, scans = watcher._step, watcher._scan, []

        def measured():
            most.append(len(watcher.waiting))
            return step()

        def counted(since=None):
            scans.append(since)
            return scan(since)

        watcher._step, watcher._scan = measured, counted
        writer = write_later(folder, range(count), pause=0)
        counts = watcher.run(stop_after=count, timeout=30)
        writer.join()
    assert counts["inspected"] == count and counts["added"] == count
    assert max(most) <= 40 and scans.count(None) >= 2  # the first scan, and one after events were dropped
    assert inspected(log) == Counter(range(count))
    assert len(stored(db)) == count


def test_without_file_events_it_scans(shade, tmp_path, monkeypatch, capsys):
    from watchdog.observers import inotify

    def refused(self):
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(inotify.InotifyObserver, "start", refused)
    monkeypatch.setattr(watch, "POLL", 0.1)
    run, log = shade
    folder = tmp_path / "camera"
    folder.mkdir()
    writer = write_later(folder, range(3), pause=0.1)
    assert main(["watch", str(folder), "--db", str(tmp_path / "r.db"), *runs_words(run), "--stop-after", "3",
                 *FAST]) == 0
    writer.join()
    captured = capsys.readouterr()
    assert "inotify watch limit reached" in captured.err and "scanning every 0.1 s" in captured.out
    assert inspected(log) == Counter(range(3))


def test_the_verdict_comes_from_the_specs(shade):
    assert verdict({"image": "a.png", "error": "a.png: cannot decode image"}) == "error"
    assert verdict({"image": "a.png", "novel": True, NAME: {"shade": "dark"}}) == "novel"
    assert verdict({"image": "a.png", "novel": False, NAME: {"shade": "light", "brightness": 200.0}}) == "light"
    assert verdict({"image": "a.png", NAME: {"shade": None}}) == "none"
    assert verdict({"image": "a.png", NAME: {"shade": "a/b c"}}) == "a_b_c"  # a folder name, never a path
    assert verdict({"image": "a.png"}) == "inspected"


def test_a_missing_folder_is_one_line(shade, tmp_path, capsys):
    run, _ = shade
    assert main(["watch", str(tmp_path / "nowhere"), "--db", str(tmp_path / "r.db"), *runs_words(run)]) == 2
    assert "no such folder to watch" in capsys.readouterr().err
