"""Running a module over a loader in eval mode: the one place that decides device, layout and autocast.

Validation, ``imgcls evaluate``, the results view and feature extraction go through
``forward_batches``; prediction (``deploy/predict.py``) and the export's parity check call ``forward``
on one batch at a time. So they agree on the autocast dtype (bfloat16 where the GPU has it, else
float16; on the CPU bfloat16 only when a run's train.cpu_speed asks, see training/setup.py) and on
channels-last inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def autocast_dtype(device: "torch.device", amp: bool) -> "torch.dtype | None":
    """The mixed-precision dtype for ``device`` (None = full precision): bf16 where CUDA supports it, else fp16."""
    import torch

    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def forward(
    module: "torch.nn.Module",
    inputs: "torch.Tensor",
    device: "torch.device",
    *,
    amp_dtype: "torch.dtype | None" = None,
    channels_last: bool = False,
) -> Any:
    """``module(inputs)`` the way every pass runs it: no autograd, inputs on ``device`` (channels-last if
    asked), under autocast when ``amp_dtype`` is set. The caller puts ``module`` in eval mode once."""
    import torch

    with torch.inference_mode():
        inputs = inputs.to(device, non_blocking=True)
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            return module(inputs)


def forward_batches(
    module: "torch.nn.Module",
    loader: Iterable[Any],
    device: "torch.device",
    *,
    amp_dtype: "torch.dtype | None" = None,
    channels_last: bool = False,
    should_stop: Callable[[], None] | None = None,
) -> Iterator[tuple[Any, "torch.Tensor", "torch.Tensor"]]:
    """(output, targets on ``device``, indices) per (inputs, targets, indices) batch, in eval and inference mode.

    ``should_stop`` is called before each batch and may raise to abandon the pass.
    """
    import torch

    module.eval()
    with torch.inference_mode():
        for inputs, targets, indices in loader:
            if should_stop is not None:
                should_stop()
            output = forward(module, inputs, device, amp_dtype=amp_dtype, channels_last=channels_last)
            yield output, targets.to(device, non_blocking=True), indices
