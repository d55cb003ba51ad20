"""defectlab's own progress for Keras' work. Keras' bars (`34/34 ━━━━ 0s 513ms/step`) go to stdout, where they
mix with the results and fill a log with hundreds of lines; so every Keras call here passes verbose=0 and, where
progress is asked for, gets `bars(...)`: the suite's tqdm bar on stderr, drawn as every other bar of the suite
(off under --quiet, off when stderr is no terminal)."""
from __future__ import annotations

import keras
from tqdm.auto import tqdm


def _bar(desc: str, total, unit: str, leave: bool = True):
    # disable=None: off on a pipe or in a log file, as the suite's other bars (shared.suite.predictor)
    return tqdm(total=total, desc=desc, unit=unit, leave=leave, disable=None, dynamic_ncols=True)


def _postfix(logs) -> dict:
    return {name: f"{float(value):.4f}" for name, value in (logs or {}).items()
            if name.endswith(("loss", "accuracy"))}


class Bar(keras.callbacks.Callback):
    """fit: one bar over the epochs, the last epoch's loss and validation metrics in its postfix, plus (batches=True,
    for long epochs) a passing bar over each epoch's batches; a one-epoch fit with batches=True gets the batch bar
    alone. predict: one bar over the batches (leave=False: it goes when done, for a bar drawn inside another)."""

    def __init__(self, desc: str, batches: bool = False, leave: bool = True):
        super().__init__()
        self.desc, self.batches, self.leave = desc, batches, leave
        self.epochs = self.steps = None

    def on_train_begin(self, logs=None):
        if not (self.batches and self.params.get("epochs") == 1):
            self.epochs = _bar(self.desc, self.params.get("epochs"), "epoch", self.leave)

    def on_epoch_begin(self, epoch, logs=None):
        if self.batches:
            self.steps = _bar(f"{self.desc} epoch {epoch + 1}" if self.epochs is not None else self.desc,
                              self.params.get("steps"), "batch", leave=self.leave and self.epochs is None)

    def on_train_batch_end(self, batch, logs=None):
        if self.steps is not None:
            self.steps.update()

    def on_epoch_end(self, epoch, logs=None):
        if self.epochs is None:   # the batch bar is the only one: it keeps the loss
            self.steps.set_postfix(_postfix(logs), refresh=False)
            self._close_steps()
            return
        self._close_steps()
        self.epochs.set_postfix(_postfix(logs), refresh=False)
        self.epochs.update(epoch + 1 - self.epochs.n)   # a resumed fit (BackupAndRestore) starts past epoch 0

    def on_train_end(self, logs=None):
        self._close_steps()
        if self.epochs is not None:
            self.epochs.close()

    def on_predict_begin(self, logs=None):
        self.steps = _bar(self.desc, self.params.get("steps"), "batch", self.leave)

    def on_predict_batch_end(self, batch, logs=None):
        self.steps.update()

    def on_predict_end(self, logs=None):
        self._close_steps()

    def _close_steps(self):
        if self.steps is not None:
            self.steps.close()
            self.steps = None


def bar(desc: str, total: int, unit: str, progress: bool):
    """A bar of the suite's kind over work of several Keras calls (e.g. the 8 views of semi.view_features)."""
    return _bar(f"[classification] {desc}", total, unit) if progress else None


def bars(desc: str, progress: bool, batches: bool = False, leave: bool = True) -> list:
    """The callbacks list for a Keras fit / predict: `[Bar]` where progress is on, else none. `desc` without the
    '[classification] ' prefix."""
    return [Bar(f"[classification] {desc}", batches, leave)] if progress else []
