"""Loader for the bundled Polish companies bankruptcy data (UCI 365, CC BY 4.0; see data/polish/SOURCE.md).

``5year.arff`` holds ratios from the last year before the outcome window: the 1-year horizon the product
trains on. ``1year.arff`` is the 5-year horizon, kept for the benchmark only.
"""

from __future__ import annotations

import gzip
import io
from importlib import resources

import numpy as np
import pandas as pd

HORIZON_FILES = {1: "5year.arff.gz", 5: "1year.arff.gz"}


def load_polish(horizon_years: int = 1) -> pd.DataFrame:
    """Attr1..Attr64 as floats (NaN for '?') and ``target`` (1 = bankrupt within the horizon)."""
    from scipy.io import arff  # imported by training runs only

    if horizon_years not in HORIZON_FILES:
        raise ValueError(f"horizon_years must be one of {sorted(HORIZON_FILES)}")
    blob = resources.files("risk_assets.data").joinpath("polish", HORIZON_FILES[horizon_years]).read_bytes()
    text = gzip.decompress(blob).decode("ascii")
    data, _meta = arff.loadarff(io.StringIO(text))
    frame = pd.DataFrame(data)
    frame["target"] = frame.pop("class").map(lambda v: int(v.decode() if isinstance(v, bytes) else v))
    attrs = [c for c in frame.columns if c.startswith("Attr")]
    frame[attrs] = frame[attrs].astype(float).replace([np.inf, -np.inf], np.nan)
    return frame
