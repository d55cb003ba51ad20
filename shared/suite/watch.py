"""`defectlab watch`: a camera folder inspected as pictures arrive. Each new picture is inspected once, after it is
completely written; its record goes into the results database (shared/store) and, optionally, a link to it into a
folder per verdict.

Completely written: its size and mtime unchanged for `settle` seconds, and it decodes. A settled file that does
not decode is tried again while it stays as it is; after `give_up` seconds it is stored as an error and one line
names it (a camera that pauses mid-file for longer than that gets its picture inspected again once it is whole:
another content, another row).

The database is the ledger. A file is new when the store has no inspection of it under these runs: none of its
path made after the file last changed, and none of its content (sha256) at all. After a crash the watch scans the
folder and inspects what the store has not seen; the store keeps one row per picture content and runs, so a batch
inspected again because the crash came before its rows were written is no second row. Memory holds the files
waiting to settle (at most MAX_WAITING) and one batch, never the files already seen.

Events come from watchdog (inotify on Linux). `poll` scans the folder instead, every `poll` seconds (network
shares, where inotify does not see other machines' writes), as it does where watchdog has no native events;
watchdog's own polling observer is not used because it keeps a snapshot of the whole folder in memory. A scan walks
the folder and asks the database about the pictures changed (mtime or ctime) since the last scan began, less
MARGIN; with events, one runs every RESCAN seconds anyway. The first scan, one every FULL_SCAN seconds and one
after events were lost (the kernel's queue overflowed, or more files waited than MAX_WAITING) ask about every
picture."""
from __future__ import annotations

import math
import os
import queue
import re
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from ..datasets.images import IMAGE_SUFFIXES
from . import registry

# the store (SQLAlchemy, Alembic) is imported where it is used: the CLI reads this module's defaults for its help

SETTLE = 1.0          # seconds a file must stay the same size and mtime before it is read
GIVE_UP = 10.0        # seconds a settled file may fail to decode before it is stored as an error
POLL = 2.0            # seconds between scans when the platform gives no file events
RESCAN = 300.0        # seconds between scans of what changed lately, whatever the events said
FULL_SCAN = 3600.0    # seconds between scans that ask the database about every picture in the folder
MARGIN = 60.0         # seconds a scan of what changed lately reaches back before the last scan (clocks differ)
MAX_WAITING = 10_000  # files waiting to settle; beyond it the scan waits and missed events mean a rescan
CHUNK = 500           # paths per database question
RETRY = 5.0           # seconds before a batch is tried again when the database could not take it
TICK = 0.25           # longest sleep between looks at the waiting files


@dataclass
class Waiting:
    """A file not inspected yet: the size and mtime last seen, since when (monotonic seconds), when to look again
    and when it first failed to decode while settled."""

    size: int
    mtime: int
    since: float
    check: float
    failed: float | None = None


def changed_at(stat: os.stat_result) -> float:
    """The file's last change, epoch seconds: ctime counts too, since a move or a copy that keeps the mtime still
    sets it."""
    return max(stat.st_mtime, stat.st_ctime)


def is_picture(path: Path) -> bool:
    """The pictures `defectlab inspect` reads from a folder: image suffixes, no hidden (temporary) files."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def walk(folder: Path, since: float | None = None, skip: Path | None = None) -> Iterator[tuple[Path, float]]:
    """(picture, changed_at) under folder, lazily (no listing held), symlinked folders not followed; `since`: only
    pictures changed since then; `skip`: a folder left out."""
    folders = [folder]
    while folders:
        try:
            entries = os.scandir(folders.pop())
        except OSError:  # removed or unreadable meanwhile
            continue
        with entries:
            for entry in entries:
                path = Path(entry.path)
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if path != skip:
                            folders.append(path)
                        continue
                    if not is_picture(path):
                        continue
                    changed = changed_at(entry.stat())
                except OSError:  # gone meanwhile, or a broken link
                    continue
                if since is None or changed >= since:
                    yield path, changed


def verdict(record: Mapping) -> str:
    """The folder a record's picture is sorted into: `error`, `novel`, else the answer of the first task in
    registry order whose spec names an answer_column (`none` when it has none), else `inspected`."""
    if record.get("error"):
        return "error"
    if record.get("novel"):
        return "novel"
    for task in registry.names():
        spec, part = registry.task(task), record.get(task)
        if spec.answer_column and isinstance(part, Mapping):
            value = spec.columns({k: v for k, v in part.items() if not k.startswith("_")}).get(spec.answer_column)
            name = "" if value is None else re.sub(r"[^\w.-]+", "_", str(value)).strip("._")
            return name or "none"
    return "inspected"


def link(source: Path, target: Path) -> Path:
    """A hard link to source at target (a symbolic one where a hard link cannot be made, e.g. across file
    systems); the picture itself is neither moved nor changed. A link to the same file already there is kept; another
    file there keeps its place and this one gets its content hash in its name."""
    from ..store.store import file_identity

    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(target):
        if target.exists() and os.path.samefile(source, target):
            return target
        identity = file_identity(source)
        target = target.with_name(f"{target.stem}-{identity[0][:12] if identity else 'unread'}{target.suffix}")
        if os.path.lexists(target):
            return target
    try:
        os.link(source, target)
    except OSError:
        os.symlink(source, target)
    return target


def epoch(moment) -> float:
    """A stored time as epoch seconds; SQLite gives it back without its zone, which is UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class Ledger:
    """What the store holds for one set of runs, asked in chunks of paths: nothing of it is kept here."""

    def __init__(self, store, description: Mapping):
        from ..store.store import runs_key

        self.store, self.description, self.key = store, description, runs_key(description)

    def unseen(self, found: list[tuple[Path, float]]) -> list[Path]:
        """The pictures of (path, changed_at) with no inspection of their path under these runs made since they
        last changed."""
        from sqlalchemy import func, select

        from ..store.schema import inspections

        latest = {}
        names = [str(path) for path, _ in found]
        with self.store.engine.connect() as connection:
            for start in range(0, len(names), CHUNK):
                query = (select(inspections.c.image, func.max(inspections.c.created))
                         .where(inspections.c.runs_key == self.key, inspections.c.image.in_(names[start:start + CHUNK]))
                         .group_by(inspections.c.image))
                latest.update({image: epoch(created) for image, created in connection.execute(query)})
        return [path for path, changed in found if latest.get(str(path), -math.inf) < changed]

    def stored(self, paths: list[Path]) -> set[Path]:
        """The pictures whose content the store has inspected under these runs (under any path)."""
        from sqlalchemy import select

        from ..store.schema import inspections, pictures
        from ..store.store import file_identity

        digests = {path: identity[0] for path in paths if (identity := file_identity(path))}
        if not digests:
            return set()
        query = (select(pictures.c.sha256).join(inspections, inspections.c.picture_id == pictures.c.id)
                 .where(inspections.c.runs_key == self.key, pictures.c.sha256.in_(set(digests.values()))))
        with self.store.engine.connect() as connection:
            known = set(connection.scalars(query))
        return {path for path, digest in digests.items() if digest in known}

    def write(self, records: list[dict]) -> dict[str, int]:
        return self.store.write(records, self.description)


class Watcher:
    """Watch `folder` and inspect each new picture with `inspector` (shared.suite.inspect.Inspector), its record
    stored under the runs `description` (shared.store.describe_runs) and linked under `sort_into` by verdict."""

    def __init__(self, folder: str | Path, store, inspector, description: Mapping, sort_into: str | Path | None = None,
                 settle: float = SETTLE, give_up: float = GIVE_UP, poll: float | None = None):
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder to watch")
        self.ledger, self.inspector = Ledger(store, description), inspector
        self.sort_into = Path(sort_into).resolve() if sort_into else None
        self.settle, self.give_up, self.poll = settle, give_up, poll
        self.waiting: dict[Path, Waiting] = {}
        self.scans: list[Iterator] = []
        self.events: queue.Queue = queue.Queue(MAX_WAITING)
        self.missed = False  # events dropped (a full queue, the kernel's overflow): a full scan follows
        self.stopping = False
        self.counts = {"inspected": 0, "unreadable": 0, "added": 0, "changed": 0, "same": 0, "known": 0}
        self.mode = ""

    # -- the loop ------------------------------------------------------------------------------------------------
    def run(self, once: bool = False, stop_after: int | None = None, timeout: float | None = None) -> dict:
        """Watch until stopped (stop(), Ctrl-C), `stop_after` pictures inspected or `timeout` seconds; `once`: the
        pictures there now, then return. Returns the counts."""
        started = time.monotonic()
        observer = None if once else self._observe()
        self.mode = "once" if once else f"scanning every {self.poll:g} s" if observer is None else "file events"
        self._say(f"[watch] {self.folder}: {self.mode}, settle {self.settle:g} s -> {self.ledger.store.url} "
                  f"(runs {self.ledger.key[:12]})")
        every = math.inf if once else self.poll if observer is None else RESCAN
        last_scan, next_full, next_look = self._scan(), started + (math.inf if once else FULL_SCAN), started + every
        try:
            while not self.stopping:
                now = time.monotonic()
                if (now >= next_full or self.missed) and not self.scans and self._room():
                    last_scan, next_full, next_look, self.missed = self._scan(), now + FULL_SCAN, now + every, False
                elif now >= next_look and not self.scans:  # what changed since the last scan began, clocks aside
                    last_scan, next_look = self._scan(last_scan - max(MARGIN, 2 * every)), now + every
                self._take_events()
                self._feed()
                busy = self._step()
                if stop_after and self.counts["inspected"] >= stop_after:
                    break
                if timeout is not None and time.monotonic() - started >= timeout:
                    break
                if once and not self.scans and not self.waiting:
                    break
                if not busy:
                    self._take_events(wait=max(0.02, min(TICK, self.settle / 4, next_look - time.monotonic())))
        except KeyboardInterrupt:
            pass
        finally:
            if observer is not None:
                observer.stop()
                observer.join()
        counts = self.counts
        self._say(f"[watch] stopped: {counts['inspected']} inspected ({counts['unreadable']} unreadable), "
                  f"{counts['known']} known by content, {len(self.waiting)} still waiting to settle")
        return counts

    def stop(self) -> None:
        self.stopping = True

    # -- finding pictures ----------------------------------------------------------------------------------------
    def _observe(self):
        """A started watchdog observer feeding self.events, or None (scanning every self.poll seconds)."""
        if self.poll:
            return None
        try:
            from watchdog import events
            from watchdog.observers import Observer
            from watchdog.observers.polling import PollingObserver
        except ImportError:
            reason = "watchdog is not installed"
        else:
            watcher = self

            class Handler(events.FileSystemEventHandler):
                def dispatch(self, event):
                    watcher._event(event)

            kinds = [events.FileCreatedEvent, events.FileModifiedEvent, events.FileMovedEvent, events.FileClosedEvent,
                     events.DirCreatedEvent, events.DirMovedEvent, events.EventsLostEvent]
            if Observer is PollingObserver:
                reason = "this platform gives no file events"
            else:
                observer = Observer()
                try:
                    observer.schedule(Handler(), str(self.folder), recursive=True, event_filter=kinds)
                    observer.start()
                    return observer
                except OSError as error:  # no inotify, or its limit of watches reached
                    reason = f"no file events ({error})"
        self.poll = POLL
        self._warn(f"[watch] {reason}: scanning every {POLL:g} s instead")
        return None

    def _event(self, event) -> None:
        """Runs in watchdog's thread: only a queue put."""
        if event.event_type == "events_lost":
            self.missed = True
            return
        path = event.dest_path or event.src_path
        try:
            self.events.put_nowait((Path(os.fsdecode(path)), event.is_directory))
        except queue.Full:
            self.missed = True

    def _take_events(self, wait: float = 0.0) -> None:
        """Pictures named by events into the waiting files; a new folder is scanned (its first files may come
        before its watch)."""
        found = {}
        try:
            path, is_folder = self.events.get(timeout=wait) if wait > 0 else self.events.get_nowait()
            while True:
                found[path] = is_folder
                path, is_folder = self.events.get_nowait()
        except queue.Empty:
            pass
        pictures = []
        for path, is_folder in found.items():
            if self._skipped(path):
                continue
            if is_folder:
                self.scans.append(walk(path, skip=self.sort_into))
            elif is_picture(path) and path not in self.waiting:
                try:
                    pictures.append((path, changed_at(path.stat())))
                except OSError:
                    continue
        self._add(pictures)

    def _scan(self, since: float | None = None) -> float:
        """Start a scan of the whole folder (`since`: epoch seconds, only pictures changed since); returns when it
        began, epoch seconds."""
        self.scans.append(walk(self.folder, since, self.sort_into))
        return time.time()

    def _feed(self) -> None:
        """Up to CHUNK pictures from the scans in progress into the waiting files, as room allows."""
        found = []
        while self.scans and len(found) < CHUNK and len(self.waiting) + len(found) < MAX_WAITING:
            try:
                path, changed = next(self.scans[0])
            except StopIteration:
                self.scans.pop(0)
                continue
            if path not in self.waiting:
                found.append((path, changed))
        self._add(found)

    def _add(self, found: list[tuple[Path, float]]) -> None:
        now = time.monotonic()
        for path in self.ledger.unseen(found) if found else []:
            if path in self.waiting:
                continue
            if not self._room():
                self.missed = True
                return
            try:
                stat = path.stat()
            except OSError:
                continue
            self.waiting[path] = Waiting(stat.st_size, stat.st_mtime_ns, now, now + self.settle)

    def _room(self) -> bool:
        return len(self.waiting) < MAX_WAITING

    def _skipped(self, path: Path) -> bool:
        """Outside the folder (moved away) or inside the sorted folder."""
        return not path.is_relative_to(self.folder) or (self.sort_into is not None and
                                                         path.is_relative_to(self.sort_into))

    # -- inspecting ----------------------------------------------------------------------------------------------
    def _step(self) -> bool:
        """Look at the waiting files due for a look; inspect one batch of the settled ones. True when a batch ran."""
        now, ready = time.monotonic(), []
        for path, entry in list(self.waiting.items()):
            if entry.check > now:
                continue
            if not self._still(path, entry, now):
                continue
            if now - entry.since < self.settle:
                entry.check = entry.since + self.settle
                continue
            ready.append(path)
            if len(ready) == self.inspector.batch_size:
                break
        if ready:
            self._inspect(ready)
        return bool(ready)

    def _still(self, path: Path, entry: Waiting, now: float) -> bool:
        """Whether the file is as last seen; a changed one starts to settle again, a vanished one is dropped."""
        try:
            stat = path.stat()
        except OSError:
            self.waiting.pop(path, None)
            return False
        if (stat.st_size, stat.st_mtime_ns) != (entry.size, entry.mtime):
            entry.size, entry.mtime, entry.since, entry.check, entry.failed = (
                stat.st_size, stat.st_mtime_ns, now, now + self.settle, None)
            return False
        return True

    def _inspect(self, paths: list[Path]) -> None:
        """One batch: pictures whose content is stored already are dropped, the others inspected; a record is kept
        only if its file did not change while it was read, an unreadable one only once it gives up."""
        known = self.ledger.stored(paths)
        for path in known:
            del self.waiting[path]
        self.counts["known"] += len(known)
        spent, done = dict(self.inspector.predict_seconds), []
        for record, _ in self.inspector.iter_pairs([str(p) for p in paths if p not in known]):
            path, now = Path(record["image"]), time.monotonic()
            entry = self.waiting.get(path)
            if entry is None or not self._still(path, entry, now):  # written to while it was read
                continue
            if "error" in record:
                entry.failed = entry.failed or now
                if now - entry.failed < self.give_up:
                    entry.check = now + self.settle  # perhaps not whole yet: tried again while it stays so
                    continue
                self._warn(f"defectlab: watch: {record['error']} (still so after {self.give_up:g} s; stored as "
                           "an error)")
            done.append(record)
        written, parts = self._store(done, spent) if done else {}, []
        if written:
            unreadable = sum("error" in r for r in done)
            parts.append(f"{len(done)} inspected ({written['added']} added, {written['changed']} changed, "
                         f"{written['same']} stored already{f', {unreadable} unreadable' if unreadable else ''})")
        if known:
            parts.append(f"{len(known)} known by content")
        if parts:
            self._say(f"[watch] {', '.join(parts)}; {self.counts['inspected']} so far, {len(self.waiting)} waiting")

    def _store(self, records: list[dict], spent: dict) -> dict[str, int]:
        """Link, then write: a crash between the two inspects the pictures again and finds the links there.
        Returns Store.write's counts, {} when the database did not take them (tried again later)."""
        from sqlalchemy.exc import SQLAlchemyError

        scored = sum("error" not in r for r in records) or 1
        timings = {task: round((seconds - spent.get(task, 0.0)) * 1000 / scored, 2)
                   for task, seconds in self.inspector.predict_seconds.items()}
        if self.sort_into:
            for record in records:
                source = Path(record["image"])
                link(source, self.sort_into / verdict(record) / source.relative_to(self.folder))
        try:
            written = self.ledger.write([r if "error" in r else {**r, "timings_ms": timings} for r in records])
        except SQLAlchemyError as error:
            self._warn(f"defectlab: watch: the database did not take {len(records)} records "
                       f"({' '.join(str(getattr(error, 'orig', None) or error).split())}); trying again in {RETRY:g} s")
            for record in records:
                self.waiting[Path(record["image"])].check = time.monotonic() + RETRY
            return {}
        for record in records:
            del self.waiting[Path(record["image"])]
        for key, value in written.items():
            self.counts[key] += value
        self.counts["inspected"] += len(records)
        self.counts["unreadable"] += sum("error" in r for r in records)
        return written

    @staticmethod
    def _say(line: str) -> None:
        print(line, flush=True)

    @staticmethod
    def _warn(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
