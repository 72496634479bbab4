"""Files only the user may read: everything diagscope writes can hold telemetry evidence.

Reports, evidence bundles and databases can hold (masked) personal data and raw telemetry.
Each is created with mode 0600 from the first moment, so no other user can open it in the
instant between creating and restricting it, and an existing file is brought to 0600
before anything new is written into it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

PRIVATE_MODE = 0o600


def _open_private(path: Path, flags: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_MODE)
    try:
        # O_CREAT's mode only applies to a new file, and the umask may have narrowed it
        # further; an existing file keeps whatever mode it had until this.
        os.fchmod(fd, PRIVATE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path: str | Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path`, replacing its content; mode 0600."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = _open_private(Path(path), os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "wb") as fo:
        fo.write(payload)


def ensure_private(path: str | Path) -> None:
    """Create `path` empty if it is missing, keep its content if not; mode 0600 either way.

    For files another library then opens by name (an SQLite database)."""
    os.close(_open_private(Path(path), os.O_RDWR))


@contextmanager
def private_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to stream into; it becomes `path` (mode 0600) only when the block ends
    without an error, so a failed write never leaves a half-written file or replaces a good
    one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600 (less, under an unusual umask) in the target's own
    # folder, so the rename at the end is atomic and replaces any file there of any mode.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-",
                                     suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fo:
            os.fchmod(fo.fileno(), PRIVATE_MODE)
            yield fo
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
