"""The recipe's `device` against the GPUs this machine has, checked before ultralytics starts. `device=0,1` is
ultralytics' own multi-GPU training (DDP: it launches one process per GPU through torch.distributed.run); asked
of a machine without those GPUs, ultralytics fails with a message of several lines, after the data is written,
or inside its worker processes. Here it is one line, before anything is written."""
from __future__ import annotations

import os

# ultralytics' devices other than the CPU and CUDA GPUs: left to ultralytics to check
OTHER_BACKENDS = ("mps", "npu", "xpu", "tpu", "intel", "vulkan")


def cuda_request(device: str) -> list[str] | None:
    """The CUDA indices a device word names ('0', '0,1', 'cuda:0', '[0, 1]', '-1' for an idle GPU), or None for
    a device that is no CUDA request."""
    word = str(device).strip().lower()
    if word in ("", "cpu") or word.startswith(OTHER_BACKENDS):
        return None
    for mark in ("cuda:", "(", ")", "[", "]", "'", " "):
        word = word.replace(mark, "")
    if word == "cuda":
        return ["0"]
    parts = [part for part in word.split(",") if part]
    if not parts or not all(part.isdigit() or part == "-1" for part in parts):
        raise ValueError(f"detection recipe: device={device!r} is neither cpu, mps nor CUDA GPU numbers "
                         "(device=0, device=0,1)")
    return parts


def check_devices(device: str) -> None:
    """Raise ValueError (one line) when `device` names CUDA GPUs this machine does not have."""
    wanted = cuda_request(device)
    if wanted is None:
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    asked = f"detection: device={device} asks for {len(wanted)} CUDA GPU{'s' if len(wanted) > 1 else ''}"
    if count == 0:
        raise ValueError(f"{asked}, and torch sees none on this machine; device=cpu (or leave device empty) "
                         "trains on the CPU")
    from .offline import ultralytics_module

    ultralytics_module()  # configured (settings folder, offline) before its first import
    from ultralytics.utils.torch_utils import parse_device

    found = [part for part in parse_device(device).split(",") if part]  # ultralytics' reading: CUDA_VISIBLE_DEVICES
    if len(found) != len(wanted) or len(set(found)) != len(found) or any(int(i) >= count for i in found):
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise ValueError(f"{asked}, and torch sees {count}, numbered 0 to {count - 1}"
                         f"{f' (CUDA_VISIBLE_DEVICES={visible})' if visible is not None else ''}: give numbers below "
                         f"{count}, each once")
