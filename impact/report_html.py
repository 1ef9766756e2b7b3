"""HTML fragments every report section is made of: an inlined plot, a table, a paragraph.

The report must open offline and be checked from its DOM, so every section builds its plots and
tables through these, which inline each PNG as a data URI tagged `data-plot` and tag each table
`data-table`. Text is escaped here, once.
"""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")  # no display, ever: reports are written by servers and CI

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def plot_image(figure: Figure, name: str, alt: str) -> str:
    """`figure` as an `<img data-plot=name>` holding its PNG; the figure is closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<img class="plot" data-plot="{html.escape(name)}" alt="{html.escape(alt)}" '
        f'src="data:image/png;base64,{data}">'
    )


def table_html(frame: pd.DataFrame, name: str) -> str:
    """`frame` as a `<table data-table=name>`, without its index, cells escaped by pandas."""
    body = frame.to_html(
        index=False, border=0, float_format=lambda value: f"{value:,.4f}", na_rep="n/a"
    )
    return body.replace(
        '<table class="dataframe">', f'<table class="dataframe" data-table="{name}">'
    )


def paragraph(text: str, css: str = "") -> str:
    """`text`, escaped, as a `<p>` with the style class `css` if one is given."""
    attribute = f' class="{css}"' if css else ""
    return f"<p{attribute}>{html.escape(text)}</p>"


def version_role_label(version: str, role: str) -> str:
    """How plots and text name one model version in one role, e.g. `v3 (shadow)`."""
    return f"{version} ({role})"
