"""Content fingerprints of tables: how an asset tells that its inputs are what they were at its last run.

A fingerprint is order-independent (a database may return rows in any order) and ignores the columns that say
when a row was written rather than what it holds (loaded_at, computed_at...). Equal fingerprints mean equal
content up to a 64-bit hash per row; a difference, however small, changes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd


def table_fingerprint(frame: pd.DataFrame, ignore: Iterable[str] = ()) -> str:
    """Hex digest of ``frame``'s content: its column names, row count and the wrapping sum of its row hashes."""
    skipped = set(ignore)
    columns = sorted(str(c) for c in frame.columns if c not in skipped)
    total = np.uint64(0)
    if len(frame) and columns:
        rows = pd.util.hash_pandas_object(frame[columns], index=False).to_numpy(dtype=np.uint64)
        total = rows.sum(dtype=np.uint64)  # modulo 2**64: the same whatever the row order
    text = f"{columns}|{len(frame)}|{int(total)}"
    return hashlib.sha256(text.encode()).hexdigest()


def combined_fingerprint(parts: Iterable[object]) -> str:
    """One digest of several fingerprints and plain values (versions, dates), in the order given."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]


def value_digests(frame: pd.DataFrame) -> list[str]:
    """Per row of a float frame, a 128-bit digest of its values by column name (the columns' order does not
    matter): what a score keeps of the feature values it was predicted from, so that a later run can tell that a
    filing's features are unchanged, and the API that the features row it reads is the one that was scored,
    without every score carrying the values themselves. A zero's sign and a NaN's bits do not count."""
    names = sorted(str(c) for c in frame.columns)
    values = frame.set_axis([str(c) for c in frame.columns], axis=1)[names].to_numpy(dtype=np.float64) + 0.0
    values[np.isnan(values)] = np.nan
    keyed = hashlib.blake2b("\x1f".join(names).encode(), digest_size=16)
    digests = []
    for row in np.ascontiguousarray(values):
        digest = keyed.copy()
        digest.update(row.tobytes())
        digests.append(digest.hexdigest())
    return digests
