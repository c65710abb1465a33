"""The TorchScript policy: a TorchScript file is a program, so it runs only with the user's consent.

A TorchScript export runs its own code when loaded and in every ``forward`` (it can write and read
files), so it is loaded only when

- its SHA-256 digest was recorded by ``imgcls export --format torchscript`` on this machine (the
  registry is ``trusted-torchscript.json`` in the per-user data folder), or
- the user said so: ``--trust-code`` on the command line, or a confirmation in the app that names
  the risk.

Otherwise ``UntrustedCodeError`` names the file and both ways out. ONNX files hold no code: they are
the format to share models in. Every ``torch.jit.load`` of a file goes through ``require_code_consent``
(tests/robustness/test_security.py checks the source for it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import ImgclsError

REGISTRY_NAME = "trusted-torchscript.json"
_MAX_DIGESTS = 1000  # the newest are kept; an old export beyond them needs --trust-code again
_REGISTRY_READ_LIMIT = 1 << 20


class UntrustedCodeError(ImgclsError):
    """A TorchScript file not exported on this machine, opened without the user's consent."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path}: this is a TorchScript file, which is a program: loading it runs the code inside, which can "
            "read, change or delete your files. It was not exported by imgcls on this machine, so it was not "
            "loaded. If you trust whoever made it, pass --trust-code; to share models, use the ONNX export "
            "(imgcls export --format onnx), which holds no code."
        )
        self.path = path


def registry_path() -> Path:
    from .data.demo import default_data_dir

    return default_data_dir() / REGISTRY_NAME


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def recorded_digests() -> list[str]:
    """Digests of TorchScript files exported on this machine; a damaged registry counts as empty."""
    try:
        path = registry_path()
        if path.stat().st_size > _REGISTRY_READ_LIMIT:
            return []
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ImgclsError):
        return []
    digests = payload.get("sha256") if isinstance(payload, dict) else None
    return [d for d in digests if isinstance(d, str)] if isinstance(digests, list) else []


def record_trusted_export(data: bytes) -> None:
    """Remember ``data``'s digest: a file this machine exported may be loaded without asking."""
    from .checkpoint import atomic_write_text

    digest = digest_of(data)
    digests = [d for d in recorded_digests() if d != digest] + [digest]
    path = registry_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImgclsError(f"{path.parent}: cannot create the folder that records trusted exports "
                          f"({exc.strerror or exc}); set IMGCLS_DATA_DIR to a folder you can write.") from exc
    payload = {"about": "SHA-256 of TorchScript files imgcls exported on this machine; only these load without "
                        "--trust-code.", "sha256": digests[-_MAX_DIGESTS:]}
    atomic_write_text(path, json.dumps(payload, indent=1) + "\n")


def require_code_consent(path: Path, data: bytes, trust_code: bool) -> None:
    """Allow TorchScript ``data`` (read from ``path``) to load only if exported here or trusted by the user."""
    if trust_code or digest_of(data) in recorded_digests():
        return
    raise UntrustedCodeError(path)
