"""Test-time augmentation views. ultralytics' TTA (`augment=True`) runs the network on a few flipped and scaled copies
of each batch, maps the boxes back onto the batch and lets NMS merge them all; a view set names those copies.
`scales` is ultralytics' own; another set replaces its list on one network, through ultralytics' own method."""
from __future__ import annotations

import types

# (scale, flip) per view; flips as ultralytics codes them on (batch, channel, height, width): 2 up-down, 3 left-right
VIEWS = {
    "scales": ((1.0, None), (0.83, 3), (0.67, None)),  # ultralytics' own, its tails clipped (below)
    "flips": ((1.0, None), (1.0, 3), (1.0, 2)),  # full size: as is, left-right, up-down
    "scales-ud": ((1.0, None), (0.83, 3), (1.0, 2), (0.67, None)),  # ultralytics' own + up-down at full size
    "upscale": ((1.0, None), (1.0, 3), (1.25, None)),  # as is, left-right, 1.25x (small defects larger)
}
CLIPPED = {"scales", "scales-ud"}  # first view the biggest, last the smallest: ultralytics clips their tails


def use_views(net, name: str) -> None:
    """Make `net` (an ultralytics DetectionModel) run the view set `name` when called with augment=True."""
    if name not in VIEWS:
        raise ValueError(f"unknown TTA views {name!r}; choose one of {', '.join(VIEWS)}")
    net.__dict__.pop("_predict_augment", None)  # back to ultralytics' own
    if name != "scales":
        net._predict_augment = types.MethodType(_predict_views(VIEWS[name], name in CLIPPED), net)


def _predict_views(views, clip: bool):
    def predict_augment(self, x):
        """ultralytics' DetectionModel._predict_augment with another view list. Its tail clipping drops the
        large-object outputs of the first view and the small-object ones of the last: only for sets that run from
        the biggest scale to the smallest."""
        import torch
        from ultralytics.utils.torch_utils import scale_img

        size = x.shape[-2:]
        outputs = [self._descale_pred(self._predict_once(scale_img(x.flip(flip) if flip else x, scale,
                                                                    gs=int(self.stride.max())))[0], flip, scale, size)
                   for scale, flip in views]
        return torch.cat(self._clip_augmented(outputs) if clip else outputs, -1), None

    return predict_augment
