"""The client's files for a test run: checked (safe relative paths, text, size
caps) and written into a fresh directory that only the run's sandbox sees.
The server never follows a link the run could have made: it writes before the
run starts and reads back only the report, with O_NOFOLLOW."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from servers.platform.errors import FieldViolation, InvalidArgument

MAX_FILES = 200
MAX_FILE_BYTES = 1 << 20
MAX_TOTAL_BYTES = 8 << 20
MAX_PATH = 255


def _path_problem(path: str) -> str | None:
    if not path or len(path) > MAX_PATH:
        return f"must be 1-{MAX_PATH} characters"
    if "\\" in path or "\x00" in path:
        return "must use / separators and no NUL"
    if path.startswith("/"):
        return "must be relative, not absolute"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "must not have empty, '.' or '..' segments"
    if any(part[0] in ".-" for part in parts):
        return "segments must not start with '.' or '-'"
    return None


def check_files(files: Mapping[str, str], test_paths: Sequence[str]) -> None:
    """INVALID_ARGUMENT with one field violation per bad path or content."""
    violations: list[FieldViolation] = []
    if not files:
        violations.append(FieldViolation("files", "must hold at least one file"))
    if len(files) > MAX_FILES:
        violations.append(FieldViolation("files", f"must hold at most {MAX_FILES} files"))
    total = 0
    for path, content in files.items():
        where = f"files[{path[:64]!r}]"
        problem = _path_problem(path)
        if problem:
            violations.append(FieldViolation(where, f"path {problem}"))
            continue
        size = len(content.encode())
        total += size
        if size > MAX_FILE_BYTES:
            violations.append(FieldViolation(where, f"must be at most {MAX_FILE_BYTES} bytes"))
        if "\x00" in content:
            violations.append(FieldViolation(where, "must be text (it contains NUL bytes)"))
    if total > MAX_TOTAL_BYTES:
        violations.append(FieldViolation("files", f"must total at most {MAX_TOTAL_BYTES} bytes"))
    dirs = {str(parent) for path in files for parent in PurePosixPath(path).parents if str(parent) != "."}
    violations += [
        FieldViolation(f"files[{p[:64]!r}]", "is both a file and a directory") for p in dirs & set(files)
    ]
    violations += [
        FieldViolation(f"testPaths[{i}]", "must be one of the files")
        for i, p in enumerate(test_paths)
        if p not in files and p not in dirs
    ]
    if violations:
        raise InvalidArgument("the test files are not acceptable", violations)


def write_files(root: Path, files: Mapping[str, str]) -> None:
    """Write the (checked) files under `root`, a fresh empty directory."""
    for path, content in files.items():
        target = root.joinpath(*path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content)


def read_regular(path: Path, limit: int) -> bytes:
    """A file the sandbox wrote, if it is a regular file (not a link to a host
    path), up to `limit` bytes; b"" otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return b""
        return f.read(limit + 1)
