"""The files of an experiment's report: <stem>.json, <stem>.md and <stem>.png.

Every report (the scaling laws, robustness, evaluation, universality) keeps its numbers as
JSON, its tables as markdown regenerated from that JSON, and a plot; `write` writes the
three, `read` reads the JSON back (a report that grows one model or variant at a time), and
`save_figure` is how each plot ends.
"""

import json


def read(stem):
    """The record that `write` left at <stem>.json, or None where there is none."""
    try:
        with open(stem + ".json") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def write(stem, record, text, plot):
    """<stem>.json (`record`), <stem>.md (`text`) and <stem>.png (`plot(path)`)."""
    with open(stem + ".json", "w") as f:
        json.dump(record, f, indent=2)
    with open(stem + ".md", "w") as f:
        f.write(text)
    plot(stem + ".png")


def save_figure(fig, path):
    """Lays `fig` out, saves it to `path` and closes it (returned, for its axes)."""
    import matplotlib.pyplot as plt  # Imported here: only the reports draw.

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return fig
