"""Exploding gradients: how often does clipping the gradient to [-5, 5] change anything, and
in which parameter?

Runs: those of the other sections (cells/<cell>/seed-1, exercise/seed-N,
restart/uninterrupted); nothing is trained for this section. Read: the `clipped` column of
each run's loss.csv.
Writes: clipping.csv (the share of logged iterations with a clipped entry, per parameter).
"""
import math
import os

import analysis as a
from charrnn.cells import CELLS
from charrnn.logs import read_log
from report_sections.page import md_table
from report_sections.runs import checkpoint


NAME = "clipping"
HEADING = "Exploding gradients: how often clipping bites"
CONTENTS = "How often clipping bites"


def section(plan, out):
    """(page text, summary line) of the clipping shares: no summary line."""
    s = plan.s
    runs = [(f"{CELLS[c]} (section 4)", plan.path("cells", c, f"seed-{s['cell_seeds'][0]}"))
            for c in ("rnn", "lstm", "gru")]
    runs += [(f"vanilla, seed {sd} (section 1)", plan.path("exercise", f"seed-{sd}")) for sd in s["seeds"]]
    runs += [("vanilla, seed 1, every iteration (section 3, uninterrupted)",
              plan.path("restart", "uninterrupted"))]
    rows = [clip_row(name, run) for name, run in runs]
    out.csv("clipping.csv", ["run", "logged iterations", "any", *a.PARAM_NAMES], rows)
    every = checkpoint(runs[0][1])["hparams"]["log_every"]
    return page_text(rows, every), None


def clip_row(name, run):
    """A row of clipping.csv: the run, its logged iterations, the share with any clipped
    entry and per parameter (nan for a run from before loss.csv logged clipping)."""
    cols = read_log(os.path.join(run, "loss.csv"))
    if "clipped" not in cols:
        return [name, len(cols["iteration"])] + [float("nan")] * 6
    sh = a.clip_shares(cols["clipped"])
    return [name, len(cols["clipped"]), sh["any"], *(sh[q] for q in a.PARAM_NAMES)]


def findings(rows):
    """In words: how often clipping bit in each of the three cells, and where most."""
    said = []
    for r in rows[:3]:  # the three cells
        if not math.isnan(r[2]):
            top = max(range(len(a.PARAM_NAMES)), key=lambda i: r[3 + i])
            said.append(f"{r[0].split(' (')[0]}: {r[2]:.1%} of the logged iterations, most often "
                        f"in {a.PARAM_NAMES[top]} ({r[3 + top]:.1%})" if r[2] > 0
                        else f"{r[0].split(' (')[0]}: never")
    return ("Clipping bites in " + "; ".join(said) + ". Where it bites, it changes only the "
            "entries beyond ±5; at every other iteration the gradient is used as computed."
            if said else "These runs were trained before loss.csv logged clipping.")


def page_text(rows, every):
    md = [[r[0], f"{r[1]:,}", *(("n/a" if math.isnan(v) else f"{v:.1%}") for v in r[2:])] for r in rows]
    return f"""\
Every gradient entry is clipped to [-5, 5] before the Adagrad step. The share of logged
iterations (every {every}th and the last; every one in the run of section 3) at which at least
one entry of each parameter's gradient was clipped, from the `clipped` column of each run's
loss.csv:

{md_table(['run', 'logged iterations', 'any', *a.PARAM_NAMES], md)}

{findings(rows)}

Data: [clipping.csv](clipping.csv). The runs are those of sections 1, 3 and 4.
"""
