"""The files of the report page, and the pieces every section writes them with.

    Output         the folder being written: figures (PNG, and PDF with --pdf), CSV, text
    csv_cell       one value as a CSV cell that csv and float() read back
    md_table, f2, code_block, reproduce     Markdown
    focus, bpc_axis, STYLES, MARKERS        figures

Importing this module loads matplotlib (without a display), so report.py imports it only
once training is done.
"""
import csv
import math
import os

import matplotlib


matplotlib.use("Agg")  # no display needed: before pyplot loads
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


# One style per curve, told apart in greyscale too (colour-blind safe colours).
STYLES = [dict(color="#0072B2", linestyle="-"), dict(color="#D55E00", linestyle="--"),
          dict(color="#009E73", linestyle=":"), dict(color="#555555", linestyle="-.")]
MARKERS = ["o", "s", "^", "D"]


class Output:
    """The files of the report page: every figure (PNG, and PDF with --pdf) and CSV file, in
    folder (made if it is not there); files: their names, as written."""

    def __init__(self, folder, pdf):
        self.folder, self.pdf, self.files = folder, pdf, []
        os.makedirs(folder, exist_ok=True)

    def figure(self, fig, name):
        """Save and close a figure; returns the PNG's name, for the page's link."""
        fig.tight_layout()
        for ext in ("png", "pdf") if self.pdf else ("png",):
            fig.savefig(os.path.join(self.folder, f"{name}.{ext}"), dpi=120)
            self.files.append(f"{name}.{ext}")
        plt.close(fig)
        return f"{name}.png"

    def csv(self, name, header, rows):
        with open(os.path.join(self.folder, name), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows([[csv_cell(v) for v in row] for row in rows])
        self.files.append(name)
        return name

    def text(self, name, content):
        with open(os.path.join(self.folder, name), "w", encoding="utf-8") as f:
            f.write(content)
        self.files.append(name)
        return name


def csv_cell(v):
    """A value as a CSV cell: numbers (NumPy's too) as Python writes them, all digits kept,
    so that float() reads back the same number; a number that is not there (nan or None) as
    "nan", which float() reads too."""
    if v is None:
        return "nan"
    if isinstance(v, (float, np.floating)):
        return repr(float(v))  # nan as "nan", inf as "inf"
    if isinstance(v, np.integer):
        return int(v)
    return v


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def f2(x, digits=2):
    """A number for a table, "n/a" where there is none."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def code_block(text):
    """A fenced block that shows text as it is, whatever backticks it holds."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def reproduce(plan, section):
    """The paragraph that says how to train a section's runs again."""
    cmds = "\n".join(f"    {c}" for c in plan.commands.get(section, []))
    return (f"Reproduce: `{plan.args.report_cmd}` (the runs: reused when finished), or by hand:\n\n"
            + cmds + "\n")


def focus(ax, it, *series, share=0.05, percentiles=(0, 100)):
    """Set the y range to where the curves are after their first steep descent (the first
    `share` of the iterations; as plot_loss.py does), so the figure shows where runs differ."""
    it = np.asarray(it)
    later = np.concatenate([np.asarray(s)[it >= share * it.max()] for s in series])
    low, high = np.percentile(later, percentiles)
    pad = 0.05 * (high - low) or 1.0
    ax.set_ylim(low - pad, high + pad)


class PerCharacter:
    """The conversion of a secondary axis: a loss summed over a chunk <-> bits per character."""

    def __init__(self, seq_length):
        self.k = seq_length * math.log(2)  # nats per chunk for one bit per character

    def to_bits(self, x):
        return x / self.k

    def to_loss(self, b):
        return b * self.k


def bpc_axis(ax, seq_length):
    """A right-hand axis in bits per character for a loss summed over seq_length characters."""
    scale = PerCharacter(seq_length)
    sec = ax.secondary_yaxis("right", functions=(scale.to_bits, scale.to_loss))
    sec.set_ylabel("bits per character")
    return sec
