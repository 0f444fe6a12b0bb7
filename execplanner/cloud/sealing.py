"""Sealing secrets at rest: application-credential secrets are stored only as Fernet tokens, with a key the
operator provides in a file. Without a key nothing is sealed, and per-user launch stays off."""

from __future__ import annotations

from pathlib import Path

from execplanner.errors import ExecPlannerError


class Sealer:
    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet

        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ExecPlannerError("the credential key is not a Fernet key (32 url-safe base64-encoded bytes)") from exc

    @classmethod
    def from_file(cls, path: Path) -> Sealer:
        try:
            return cls(path.read_bytes().strip())
        except OSError as exc:
            raise ExecPlannerError(f"cannot read the credential key file {path}: {exc.strerror}") from exc

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def unseal(self, sealed: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken as exc:
            raise ExecPlannerError("a sealed credential does not open with the configured key") from exc


def new_key() -> str:
    """A fresh key for an operator's key file."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")
