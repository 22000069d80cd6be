"""Write-then-rename for every file a run writes: a reader (a resumed run, TF Serving, a
user) sees the previous complete file or the new complete one, never a half-written one.

The new content goes to a uniquely named staging file beside the target (same folder,
so the rename stays on one filesystem), is fsynced, then `os.replace`d over the target;
the folder is fsynced so the rename survives a power cut. If writing fails (a kill, a
full disk, an exception) the target is untouched and the staging file is removed (a
SIGKILL can leave one behind: `.<name>.tmp-*`, ignored by every reader).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "config.json")
    >>> write_json(path, {"steps": 3})
    >>> with atomic_path(path) as staging:  # any writer that takes a path
    ...     write_text(staging, '{"steps": 4}')
    >>> open(path).read()
    '{"steps": 4}'
"""

import contextlib
import json
import os
import uuid
from collections.abc import Iterator


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a staging path to write; on a clean exit it replaces `path`. The staging
    name ends with the target's name, so writers that check a suffix (`.keras`,
    `.weights.h5`, `.npz`) accept it. Remote paths (`gs://...`) are written in place."""
    if "://" in path:
        yield path
        return
    folder, name = os.path.split(os.path.abspath(path))
    staging = os.path.join(folder, f".tmp-{uuid.uuid4().hex[:12]}-{name}")
    try:
        yield staging
        fsync(staging)
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staging)
        raise
    fsync(folder)


def write_text(path: str, text: str | bytes) -> None:
    """`text` (str as UTF-8, or bytes) to `path`, atomically."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    with atomic_path(path) as staging, _open(staging) as f:
        f.write(data)


def write_json(path: str, value, **dump_kwargs) -> None:
    """`json.dumps(value, **dump_kwargs)` to `path`, atomically."""
    write_text(path, json.dumps(value, **dump_kwargs))


def _open(path: str):
    """A binary writer; `tf.io.gfile` for remote paths (imported only then)."""
    if "://" not in path:
        return open(path, "wb")
    import tensorflow as tf

    return tf.io.gfile.GFile(path, "wb")


def fsync(path: str) -> None:
    """Flushes a file's (or a folder's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
