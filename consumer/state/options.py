"""RocksDB options for the state stores, built once per process and shared by every partition.

Each choice, with what was measured on rocksdict 0.3.29 (/work/notes/state-design.md, section 2):

- **One shared block `Cache`** (`cache_bytes`, 64 MiB by default) for every partition's store and
  every column family. Quix Streams gives each partition its own 128 MiB cache; memory then grows
  with the number of assigned partitions. Here it is set by this one number.
- **A `WriteBufferManager` of 32 MiB charged to that cache**: the memtables of all stores count
  against the same budget. Eight stores holding 500 k ids grew RSS by 50 MB with their own caches
  (48 MB of memtables) and by 27 MB with the shared cache and manager (13 MB of memtables).
- **16 MiB write buffers, two per column family**: the setting of the 2 M-id benchmark (5.3 µs per
  id for `WriteBatch.put` + `write`, RSS +40 MB at 2 M ids, flat).
- **A bloom filter of 10 bits per key, kept in the table readers**: a lookup of an id never seen
  (the common case) costs about 1 µs instead of 15 µs (917 k/s against 69 k/s). The filter is
  **not** put in the block cache (`cache_index_and_filter_blocks`): the 2.5 MB full filter of a
  2 M-id store thrashed a 32 MiB cache and lookups fell to 8 to 10 k/s. Kept in the table readers it
  costs about 1.65 B per id (17 MB at 10 M ids).
- **`max_total_wal_size` 64 MiB**: the stores have a column family per time bucket and a `meta`
  column family written with every batch; a column family that is written but rarely flushed
  keeps every WAL file since its oldest unflushed write. Past this size RocksDB flushes the
  column families holding the oldest WAL back. (Without the store's rollover flush, disk grew to
  148 MB in the expiry simulation; with both, it stayed at 27 to 29 MB.)
- **WAL on, writes not synced**: with the WAL, 5 of 5 `kill -9` runs during 2,000-key batches kept
  data and `meta` offset consistent; without it, all data was lost and `meta` disagreed with it.
  Syncing every write doubled the p50 write latency (0.53 to 1.14 ms per 500 ids) and took p99 from
  0.68 to 5.3 ms; the owner syncs the WAL (`PartitionStore.flush_wal`) before it writes a
  checkpoint instead, at most once a second.
- **Raw mode**: keys and values are bytes, stored as given (no pickling, no type tag).

The same `Options` object is passed for the database and for **every** column family at every
open: rocksdict opens column families that are not named with the options of the OPTIONS file
and a fresh 8 MiB cache, which silently turns the bloom filter off (misses 163 k/s against
538 k/s).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

from rocksdict import BlockBasedOptions, Cache, Options, WriteBufferManager

MIB: Final = 1024 * 1024
DEFAULT_CACHE_BYTES: Final = 64 * MIB
WRITE_BUFFER_MANAGER_BYTES: Final = 32 * MIB
WRITE_BUFFER_BYTES: Final = 16 * MIB
MAX_WRITE_BUFFERS: Final = 2
BLOOM_BITS_PER_KEY: Final = 10
MAX_TOTAL_WAL_BYTES: Final = 64 * MIB


@dataclass(frozen=True)
class StoreOptions:
    """The options every store and column family opens with, and the shared objects behind them.

    `cache` and `write_buffer_manager` are kept here so their usage can be reported (and so they
    live as long as the options that point at them).
    """

    rocksdb: Options
    cache: Cache
    write_buffer_manager: WriteBufferManager
    cache_bytes: int


def build_options(cache_bytes: int = DEFAULT_CACHE_BYTES) -> StoreOptions:
    """New options with a new cache: for a process, call `shared_options` instead."""
    if cache_bytes < WRITE_BUFFER_MANAGER_BYTES:
        # The write buffers are charged to the cache: a smaller cache would be all memtables.
        raise ValueError(
            f"the state cache must hold at least the {WRITE_BUFFER_MANAGER_BYTES // MIB} MiB of "
            f"write buffers charged to it, got {cache_bytes} bytes"
        )
    cache = Cache(cache_bytes)
    write_buffer_manager = WriteBufferManager.new_write_buffer_manager_with_cache(
        WRITE_BUFFER_MANAGER_BYTES, False, cache
    )
    table = BlockBasedOptions()
    table.set_block_cache(cache)
    table.set_bloom_filter(BLOOM_BITS_PER_KEY, False)  # full filter, not the legacy block-based one

    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.create_missing_column_families(True)
    options.set_write_buffer_size(WRITE_BUFFER_BYTES)
    options.set_max_write_buffer_number(MAX_WRITE_BUFFERS)
    options.set_write_buffer_manager(write_buffer_manager)
    options.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES)
    options.set_block_based_table_factory(table)
    return StoreOptions(
        rocksdb=options,
        cache=cache,
        write_buffer_manager=write_buffer_manager,
        cache_bytes=cache_bytes,
    )


@functools.cache
def shared_options(cache_bytes: int = DEFAULT_CACHE_BYTES) -> StoreOptions:
    """The process's options: built on the first call, the same object after, so every partition's
    store shares one cache and one write-buffer budget."""
    return build_options(cache_bytes)
