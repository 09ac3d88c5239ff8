"""Damaging real SQLite database files the ways disks and careless copies do, for tests.

Pages are found by walking the file's own b-trees (the format is documented at
https://sqlite.org/fileformat2.html), so no test depends on SQLite's optional ``dbstat``.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

_INTERIOR = {0x02: "index", 0x05: "table"}
_LEAF = {0x0A: "index", 0x0D: "table"}


def page_size(data: bytes) -> int:
    size = int.from_bytes(data[16:18], "big")
    return 65536 if size == 1 else size


def root_page(path: Path, name: str) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    finally:
        db.close()
    assert row is not None, f"no table or index {name!r}"
    return int(row[0])


def leaf_pages(path: Path, name: str) -> list[int]:
    """The leaf pages of table or index ``name``, left to right."""
    data = path.read_bytes()
    size = page_size(data)
    leaves: list[int] = []

    def walk(page: int) -> None:
        start = (page - 1) * size
        header = start + (100 if page == 1 else 0)
        kind = data[header]
        if kind in _LEAF:
            leaves.append(page)
            return
        assert kind in _INTERIOR, f"page {page} is not a b-tree page ({kind:#x})"
        cells = int.from_bytes(data[header + 3 : header + 5], "big")
        pointers = header + 12
        for i in range(cells):
            offset = int.from_bytes(data[pointers + 2 * i : pointers + 2 * i + 2], "big")
            walk(int.from_bytes(data[start + offset : start + offset + 4], "big"))
        walk(int.from_bytes(data[header + 8 : header + 12], "big"))

    walk(root_page(path, name))
    return leaves


def scribble(path: Path, offset: int, length: int, seed: int = 11) -> None:
    """Overwrite ``length`` bytes at ``offset`` with random ones (a fixed seed: the same
    damage every run)."""
    noise = random.Random(seed).randbytes(length)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(noise)


def scribble_page(path: Path, page: int, seed: int = 11) -> None:
    """Random bytes over the cell pointers and first cells of ``page``: the page's rows
    can no longer be read (or read as garbage)."""
    size = page_size(path.read_bytes())
    scribble(path, (page - 1) * size + 8, size // 3, seed)


def damage(path: Path, how: str) -> None:
    """``how``: ``data-page`` (a leaf of the messages table), ``index-page`` (a leaf of the
    messages-by-thread index), ``header`` (the file header's fields after its magic
    string), ``truncated`` (the file cut to 60 %)."""
    if how == "data-page":
        leaves = leaf_pages(path, "messages")
        assert len(leaves) >= 3, "too few messages to damage a page in the middle"
        scribble_page(path, leaves[len(leaves) // 2])
    elif how == "index-page":
        leaves = leaf_pages(path, "messages_by_thread")
        scribble_page(path, leaves[len(leaves) // 2])
    elif how == "header":
        scribble(path, 16, 84)
    elif how == "truncated":
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.truncate(size * 6 // 10)
    else:
        raise ValueError(how)
