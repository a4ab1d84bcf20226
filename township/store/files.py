"""Files kept by content hash (case photos): written once, atomically, under one folder.

A file's name is the SHA-256 of its bytes (``ab/abcdef…``), so the same bytes
stored twice are one file and a name never points at other content. Files
are written to a temporary name and renamed into place: a reader never sees
half a file, and two writers of the same bytes agree.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def blob_path(root: Path, sha256: str) -> Path:
    """Where the file of digest ``sha256`` lives under ``root`` (fanned out by its first two hex digits)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return root / sha256[:2] / sha256


def put_blob(root: Path, sha256: str, data: bytes) -> Path:
    """Store ``data`` under its digest ``sha256`` unless it is there already; return its path.

    The caller computed ``sha256`` of ``data`` (the photo pipeline does); the
    file is flushed to disk before it is renamed into place.
    """
    path = blob_path(root, sha256)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{sha256}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # same bytes from another writer: either copy is the right one
    finally:
        tmp.unlink(missing_ok=True)
    return path
