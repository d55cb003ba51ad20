"""bfloat16 autocast for training on a CPU (recipe `bf16=true`). ultralytics' own `amp="bf16"` is CUDA-only (it
raises on a CPU) and its AMP is off there, yet a CPU with AVX-512 BF16 runs convolutions faster in bfloat16. The
network's forward pass runs under `torch.autocast("cpu", bfloat16)`; the loss is computed in float32 (the box
regression and the task-aligned assigner need the precision); weights, optimizer, EMA, validation and every saved
file stay float32. A GPU keeps ultralytics' AMP and ignores this."""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def bf16_epochs(model, enabled: bool = True):
    """Around `model.train(...)`: enter the autocast context when each training epoch starts and leave it when the
    epoch ends (before validation), so the epochs' forward passes, and nothing else, run in bfloat16. Leaving the
    `with` closes a context an exception left open."""
    contexts = []

    def end(trainer=None) -> None:
        while contexts:
            contexts.pop().__exit__(None, None, None)

    def start(trainer) -> None:
        end()  # an epoch restarted without ending (ultralytics' out-of-memory retry)
        if trainer.device.type != "cpu":
            return
        import torch
        from ultralytics.utils.torch_utils import unwrap_model

        float32_loss(unwrap_model(trainer.model))
        contexts.append(torch.autocast("cpu", dtype=torch.bfloat16))
        contexts[-1].__enter__()

    if enabled:
        model.add_callback("on_train_epoch_start", start)
        model.add_callback("on_train_epoch_end", end)
    try:
        yield
    finally:
        end()


def float32_loss(net) -> None:
    """Make `net.loss` (what a DetectionModel's forward calls on a batch dict) compute the criterion outside
    autocast on float32 predictions. Patched on the live network only: the EMA copy that validates and is saved
    keeps the class's method."""
    import torch
    from torch.utils._pytree import tree_map_only

    if getattr(net, "_float32_loss", False):
        return
    loss = net.loss

    def patched(batch, preds=None):
        if preds is None:
            preds = net.forward(batch["img"])  # under the epoch's autocast
        preds = tree_map_only(torch.Tensor, lambda t: t.float() if t.is_floating_point() else t, preds)
        with torch.autocast("cpu", enabled=False):
            return loss(batch, preds)

    net.loss = patched
    net._float32_loss = True
