"""Make raw lines safe to tokenize: fix invalid UTF-8, drop NUL bytes, cap length.

Nothing here raises on bad input: invalid bytes become U+FFFD, NUL bytes are removed,
lines longer than `max_line_bytes` are truncated, and lines left empty are dropped by the
caller. `LineStats` counts each case so a run can report what it repaired or skipped.
"""

import tensorflow as tf

STAT_NAMES = ("lines", "invalid_utf8", "nul_bytes", "truncated", "empty")


class LineStats(tf.Module):
    """Counters (int64 variables) updated from inside tf.data functions.

    Example:
    >>> stats = LineStats()
    >>> _ = sanitize_lines(tf.constant([b"ok", b"\\xff", b""]), stats=stats)
    >>> stats.result()["invalid_utf8"], stats.result()["empty"]
    (1, 1)
    """

    def __init__(self):
        super().__init__(name="line_stats")
        with tf.device("/cpu:0"):
            self.counts = {
                n: tf.Variable(0, dtype=tf.int64, trainable=False, name=n) for n in STAT_NAMES
            }

    def add(self, name: str, flags: tf.Tensor) -> None:
        self.counts[name].assign_add(tf.reduce_sum(tf.cast(flags, tf.int64)))

    def result(self) -> dict[str, int]:
        return {n: int(v.numpy()) for n, v in self.counts.items()}


def sanitize_lines(
    lines: tf.Tensor, max_line_bytes: int = 100_000, stats: LineStats | None = None
) -> tf.Tensor:
    """Repairs a batch (or scalar) of tf.string lines; returns them stripped.

    Truncation happens before UTF-8 repair, so a character cut in half becomes U+FFFD
    rather than an invalid byte sequence.
    """
    truncated = tf.strings.length(lines) > max_line_bytes
    lines = tf.strings.substr(lines, 0, max_line_bytes)
    has_nul = tf.strings.regex_full_match(lines, "(?s).*\x00.*")
    lines = tf.strings.regex_replace(lines, "\x00", "")
    repaired = tf.strings.unicode_transcode(
        lines, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    invalid = tf.not_equal(repaired, lines)
    lines = tf.strings.strip(repaired)
    if stats is not None:
        stats.add("lines", tf.ones_like(truncated))
        stats.add("truncated", truncated)
        stats.add("nul_bytes", has_nul)
        stats.add("invalid_utf8", invalid)
        stats.add("empty", tf.equal(lines, ""))
    return lines
