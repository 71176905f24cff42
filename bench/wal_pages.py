#!/usr/bin/env python3
"""Where the pages of a wasmhook store's log go: which table or index each frame of
`wasmhook.db-wal` belongs to, per commit and per event.

The log is emptied at every checkpoint and at a clean shutdown, so read it from a router
stopped with `kill -9`, or one still running, before its log reaches 4 MiB:

    python3 bench/wal_pages.py DATA_DIR

It reads a copy of the store (and its log) with Python's sqlite3 and its `dbstat` table.
"""
import collections
import pathlib
import shutil
import sqlite3
import struct
import sys
import tempfile


def frames(wal: bytes):
    """The page number of each frame, and how many frames end a commit."""
    page_size = struct.unpack(">I", wal[8:12])[0]
    pages, commits, offset = [], 0, 32
    while offset + 24 + page_size <= len(wal):
        page, commit_size = struct.unpack(">II", wal[offset : offset + 8])
        pages.append(page)
        commits += commit_size != 0
        offset += 24 + page_size
    return page_size, pages, commits


def main(data_dir: str) -> None:
    store = pathlib.Path(data_dir) / "wasmhook.db"
    wal = (store.parent / "wasmhook.db-wal").read_bytes()
    page_size, pages, commits = frames(wal)
    with tempfile.TemporaryDirectory() as copy:
        shutil.copy(store, f"{copy}/wasmhook.db")
        (pathlib.Path(copy) / "wasmhook.db-wal").write_bytes(wal)
        db = sqlite3.connect(f"{copy}/wasmhook.db")
        owner = {page: name for name, page in db.execute("SELECT name, pageno FROM dbstat")}
        events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    print(f"{len(pages)} frames of {page_size} bytes in {commits} commits "
          f"({len(pages) / max(commits, 1):.1f} a commit); {events} events in the store")
    for name, count in collections.Counter(owner.get(p, "(free)") for p in pages).most_common():
        print(f"{name:32} {count:7} frames {count / max(commits, 1):6.2f} a commit")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".wasmhook")
