"""The key that signs the sign-in cookie: ``SECRET_KEY``, or one generated once and kept in a file.

Several app processes (gunicorn workers, a restart) must accept each other's
cookies, so the generated key is written once, next to the SQLite file
(``var/secret_key`` by default; under ``var/`` of the project for another
database), readable by its owner only, and read back by every later process.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from .settings import ROOT, Settings

#: The file's name, in the folder of the SQLite file.
SECRET_FILE = "secret_key"


def secret_path(settings: Settings) -> Path:
    """Where the generated key is kept for ``settings``' store."""
    url = settings.database_url
    folder = Path(url.removeprefix("sqlite:///")).parent if url.startswith("sqlite:///") else ROOT / "var"
    return folder / SECRET_FILE


def session_secret(settings: Settings) -> bytes:
    """The signing key: ``settings.secret_key``, else the kept file's, made on first use.

    Two processes starting at once agree: the key is written to a temporary
    file and linked into place, which fails for the second, which then reads
    the first one's key.
    """
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = secret_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path} holds no usable key (under 32 characters); delete it to make a new one")
    return key.encode("utf-8")
