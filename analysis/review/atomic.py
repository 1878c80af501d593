"""Atomic file writes, and transactions: a step's outputs all appear or none do.

Every artefact of the build is written through `atomic_write_bytes` (a temporary file in
the target's folder renamed over the target), so no reader ever sees half a file. The
CLI runs each command inside a `transaction`, which also keeps the versions a step
replaced until it ends, and puts them back if it fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "transaction"]


class _Journal:
    """What one `transaction` wrote: new files, and hard links to the versions they replaced."""

    def __init__(self) -> None:
        self.created: list[Path] = []
        self.backups: dict[Path, Path] = {}

    def before_replace(self, target: Path) -> None:
        if target in self.backups or target in self.created:
            return
        if not target.exists():
            self.created.append(target)
            return
        fd, backup = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".previous", dir=target.parent)
        os.close(fd)
        os.unlink(backup)
        try:
            os.link(target, backup)  # same inode: the old version is kept byte for byte, mtime too
        except OSError:  # a file system without hard links
            shutil.copy2(target, backup)
        self.backups[target] = Path(backup)

    def rollback(self) -> None:
        for target in self.created:
            target.unlink(missing_ok=True)
        for target, backup in self.backups.items():
            os.replace(backup, target)

    def commit(self) -> None:
        for backup in self.backups.values():
            backup.unlink(missing_ok=True)


_JOURNAL: list[_Journal] = []


@contextlib.contextmanager
def transaction():
    """All files written inside succeed together or not at all.

    Each write is already atomic (a temporary file renamed over the target); inside a
    transaction the replaced versions are also kept (as hard links) until the block ends.
    If it raises, even ``KeyboardInterrupt``, every file written in it is removed or
    restored to its previous bytes, so a step that fails halfway leaves its outputs as
    they were. The CLI runs every command in one.
    """
    journal = _Journal()
    _JOURNAL.append(journal)
    try:
        yield
    except BaseException:
        _JOURNAL.remove(journal)
        journal.rollback()
        raise
    _JOURNAL.remove(journal)
    journal.commit()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".partial", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; built artefacts are meant to be shared
        if _JOURNAL:
            _JOURNAL[-1].before_replace(p)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
