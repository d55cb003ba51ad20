"""Records into the store as an Inspector makes them: batch by batch, while the inspection goes on."""
from __future__ import annotations

from collections.abc import Mapping


def stream_into(store, inspector, description: Mapping) -> dict[str, int]:
    """Make the inspector's iter_pairs (shared.suite.inspect.Inspector; inspect and inspect_to read it) write
    each batch of records to the store (a Store) as it is scored, with each task's milliseconds per picture of its
    batch as the timings. Returns the counts of Store.write, filled in as batches go by."""
    counts = {"added": 0, "changed": 0, "same": 0}
    pairs, size = inspector.iter_pairs, inspector.batch_size

    def write(batch: list, seconds: dict) -> None:
        scored = sum("error" not in record for record in batch) or 1
        timings = {task: round(spent * 1000 / scored, 2) for task, spent in seconds.items()}
        done = store.write([record if "error" in record else {**record, "timings_ms": timings} for record in batch],
                           description)
        for key, value in done.items():
            counts[key] += value

    def stored(images, progress: bool = False):
        batch, seconds, spent = [], {}, dict(inspector.predict_seconds)
        try:
            for number, (record, image) in enumerate(pairs(images, progress)):
                if number % size == 0:  # a batch's first pair comes once the whole batch is scored
                    now = dict(inspector.predict_seconds)
                    seconds, spent = {task: now[task] - spent.get(task, 0.0) for task in now}, now
                batch.append(record)
                if len(batch) == size:
                    full, batch = batch, []
                    write(full, seconds)
                yield record, image
        finally:
            if batch:
                write(batch, seconds)

    inspector.iter_pairs = stored
    return counts
