"""What can go wrong with local state: a small tree, so a caller can catch the base class.

Every one of them leaves the changelog topic intact, and the changelog is the truth: the usual
answer to a corrupt or incompatible store is to destroy it and restore from the changelog.
"""

from __future__ import annotations

from pathlib import Path


class StateError(RuntimeError):
    """Local state could not be used as asked."""


class StoreOpenError(StateError):
    """RocksDB refused to open a store for a reason that is neither corruption nor the lock."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"could not open the state store at {path}: {detail}")
        self.path = path
        self.detail = detail


class StoreCorruptedError(StoreOpenError):
    """RocksDB reported corruption (a broken CURRENT, MANIFEST or table file): destroy, restore."""


class StoreLockedError(StoreOpenError):
    """Another handle, in this process or another, still holds the store's lock after retries."""


class StoreIncompatibleError(StoreOpenError):
    """The store was written with another layout (format) or time bucket size (the window
    changed): its buckets cannot be read as ours. Destroy it and restore from the changelog."""


class ChangelogError(StateError):
    """The changelog could not be read or created; scoring must not go on without it (the batch
    is read again later)."""


class CheckpointInvalidError(StateError):
    """A checkpoint file exists but cannot be read as one: treat the store as having none."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"invalid state checkpoint {path}: {detail}")
        self.path = path
        self.detail = detail
