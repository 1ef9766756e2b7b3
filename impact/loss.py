"""Loss of an approved book: what the PDs priced in (expected) and what defaults cost (realised).

Both use one loss given default, a documented setting rather than an estimate, so the two can be
set side by side by the per-version table, the what-if and the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

# Loss given default used for expected loss: the Basel II foundation-IRB supervisory value for
# senior unsecured exposures (45 %). The data set says nothing about recoveries, so this is a
# documented setting (`lgd=` everywhere, `--lgd` on `loan-scorer report`), not an estimate.
DEFAULT_LGD: Final = 0.45


def expected_loss(
    pd_values: npt.ArrayLike,
    exposure: npt.ArrayLike,
    decisions: Sequence[str] | pd.Series,
    lgd: float = DEFAULT_LGD,
) -> float:
    """Expected loss of the approved book: sum of PD x exposure x LGD over approved loans."""
    if not 0 <= lgd <= 1:
        raise ValueError(f"lgd must lie in [0, 1], got {lgd}")
    p = np.asarray(pd_values, dtype=np.float64)
    e = np.asarray(exposure, dtype=np.float64)
    approved = np.asarray(decisions, dtype=object) == "approve"
    return float(np.sum(p[approved] * e[approved]) * lgd)


def realised_loss(
    defaulted: npt.ArrayLike,
    exposure: npt.ArrayLike,
    decisions: Sequence[str] | pd.Series,
    lgd: float = DEFAULT_LGD,
) -> float:
    """What the approved book really lost at the same LGD: exposure x LGD of approved loans that
    defaulted. Set beside `expected_loss` it says whether the PDs priced the risk."""
    return expected_loss(np.asarray(defaulted, dtype=np.float64), exposure, decisions, lgd)
