"""Typed errors the engine raises for problems a user can act on.

The CLI prints ``str(error)`` and exits non-zero; the GUI shows it in a dialog. Messages
name the file (when there is one) and say what to do about it.
"""

from __future__ import annotations


class ImgclsError(Exception):
    """Base class for every error a user can act on (no traceback is shown for these)."""


class DatasetError(ImgclsError):
    """The dataset cannot be read or used (missing folder, no images, one class, bad CSV)."""


class ImageReadError(ImgclsError):
    """One image file cannot be decoded; datasets skip such files and report them."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ModelError(ImgclsError):
    """Unknown backbone, weights that do not fit, weights not cached while offline."""


class ConfigError(ImgclsError):
    """A configuration value or file is invalid."""


class OptionValueError(ConfigError):
    """A run option's value outside its valid range (the option table's).

    ``option`` ("optim.lr"), ``value`` and ``reason`` ("is out of range; use a number >= 0") let
    each front end name the option its own way: the CLI its flag, a config file its key path,
    the app the editor's label.
    """

    def __init__(self, message: str, option: str, value: object, reason: str) -> None:
        super().__init__(message)
        self.option = option
        self.value = value
        self.reason = reason


class CheckpointError(ImgclsError):
    """A checkpoint or run folder is missing, corrupt or incompatible."""


class ExportError(ImgclsError):
    """Export failed or the exported model does not match PyTorch."""


class NotEnoughMemoryError(ImgclsError):
    """Training ran out of GPU (or CPU) memory; ``suggested_batch_size`` is what to try next (None: even 1 failed)."""

    def __init__(self, message: str, suggested_batch_size: int | None) -> None:
        super().__init__(message)
        self.suggested_batch_size = suggested_batch_size


class DistributedRunError(ImgclsError):
    """A process of a distributed run failed, or the processes could not find each other."""


class StopRequested(Exception):
    """Raised inside the training loop when a stop was requested; the Trainer turns it into a clean stop."""


class JobProcessDied(ImgclsError):
    """The child process running a job ended without a result (a native crash, a kill, the OOM killer)."""


class TrainingProcessDied(JobProcessDied):
    """The child process running a training job ended without a result (a native crash, a kill, the OOM killer)."""


class JobStopped(ImgclsError):
    """A job in the child process (not training: that one stops cleanly) ended early at the app's request."""
