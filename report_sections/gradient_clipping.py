"""How often does clipping the gradient to [-5, 5] change anything, and in which parameter?
It counts how often clipping bites, which is not the same as measuring exploding gradients.

Runs: those of the other sections (cells/<cell>/seed-1, exercise/seed-N,
restart/uninterrupted); nothing is trained for this section. Read: the `clipped` column of
each run's loss.csv.
Then, with each cell's final weights, the gradients of consecutive chunks of the training
text (the state carried, as training does): in which block of bh (the gates') clipping bites.
Also read, for each run: whether it reached its --iters with every logged loss finite, and its
largest smoothed loss against the trainer's divergence check (charrnn/run.py: a smoothed
loss above twice a uniform guess's at two logged rows in a row stops the run).
Writes: clipping.csv (the share of logged iterations with a clipped entry, per parameter),
clipping-blocks.csv (per cell and block of bh, the share of chunks with a clipped entry).
"""
import math
import os
import textwrap

import numpy as np

import analysis as a
from charrnn.logs import read_log
from charrnn.model import CELLS, cell_module
from charrnn.text import build_vocab
from report_sections.page import md_table
from report_sections.runs import checkpoint


NAME = "clipping"
HEADING = "How often gradient clipping bites"
CONTENTS = "How often gradient clipping bites"
BLOCKS = {"rnn": ("h",), "lstm": ("i", "f", "o", "g"), "gru": ("r", "u", "n")}  # bh's row blocks
CHUNKS = 300  # chunks of training text whose gradients are read
CELL_ORDER = ("rnn", "lstm", "gru")
MARGIN = 1.5  # a cells' difference up to this many times the seed spread is "about the spread"


def section(plan, out):
    """(page text, summary line) of the clipping shares: no summary line."""
    s = plan.s
    seed = s["cell_seeds"][0]
    runs = [(f"{CELLS[c]}, seed {seed} (section 4)", plan.path("cells", c, f"seed-{seed}"))
            for c in CELL_ORDER]
    runs += [(f"vanilla, seed {sd} (section 1)", plan.path("exercise", f"seed-{sd}")) for sd in s["seeds"]]
    uninterrupted = plan.path("restart", "uninterrupted")
    runs += [(f"vanilla, seed {checkpoint(uninterrupted)['hparams']['seed']}, every iteration "
              f"(section 3, uninterrupted)", uninterrupted)]
    rows = [clip_row(name, run) for name, run in runs]
    out.csv("clipping.csv", ["run", "logged iterations", "any", *a.PARAM_NAMES], rows)
    first = checkpoint(runs[0][1])
    blocks = [row for c in CELL_ORDER for row in block_rows(plan, c, plan.path("cells", c, f"seed-{seed}"))]
    out.csv("clipping-blocks.csv", ["cell", "block", "chunks", "share of chunks with bh clipped"], blocks)
    iters = {"cells": first["iters"], "exercise": checkpoint(runs[len(CELL_ORDER)][1])["iters"]}
    return page_text(rows, first["hparams"], blocks, seed, iters, [finish_row(run) for _, run in runs]), None


def finish_row(run):
    """(whether the run reached its --iters, whether every logged loss is finite, its largest
    smoothed loss over a uniform guess's): the trainer stops a run whose loss is not finite, or
    whose smoothed loss is above 2 uniform guesses' at two logged rows in a row."""
    state = checkpoint(run)
    cols = read_log(os.path.join(run, "loss.csv"))
    loss = np.array(cols["loss"], dtype=float)
    smooth = np.array(cols["smooth_loss"], dtype=float)
    uniform = state["hparams"]["seq_length"] * math.log(len(state["chars"]))
    return (state["n"] == state["iters"], bool(np.isfinite(loss).all() and np.isfinite(smooth).all()),
            float(smooth.max() / uniform))


def block_rows(plan, cell, run):
    """Rows (cell, block, chunks, share of chunks with an entry of that block of bh at the
    limit): the run's final weights on the first CHUNKS chunks of the text, state carried."""
    state = checkpoint(run)
    T, names = state["hparams"]["seq_length"], BLOCKS[cell]
    _, data = build_vocab(plan.text, state["chars"])
    n = min(CHUNKS, (len(data) - 1) // T)
    h, hits = cell_module(cell).zero_state(state["hparams"]["hidden_size"]), np.zeros(len(names))
    for j in range(n):
        x, y = data[j * T:(j + 1) * T], data[j * T + 1:(j + 1) * T + 1]
        *_, dbh, _, h = cell_module(cell).lossFun(x, y, h, state["params"])
        hits += a.clipped_blocks(dbh, len(names))
    return [[CELLS[cell], b, n, float(k / n)] for b, k in zip(names, hits)]


def clip_row(name, run):
    """A row of clipping.csv: the run, its logged iterations, the share with any clipped
    entry and per parameter (nan for a run from before loss.csv logged clipping)."""
    cols = read_log(os.path.join(run, "loss.csv"))
    if "clipped" not in cols:
        return [name, len(cols["iteration"])] + [float("nan")] * 6
    sh = a.clip_shares(cols["clipped"])
    return [name, len(cols["clipped"]), sh["any"], *(sh[q] for q in a.PARAM_NAMES)]


def cell_name(row):
    """The cell of a section-4 row: its name before the seed."""
    return row[0].split(",")[0]


def findings(rows):
    """In words: how often clipping bit in each of the three cells, and where most."""
    said = []
    for r in rows[:3]:  # the three cells
        if not math.isnan(r[2]):
            top = max(range(len(a.PARAM_NAMES)), key=lambda i: r[3 + i])
            said.append(f"{cell_name(r)}: {r[2]:.1%} of the logged iterations, most often "
                        f"in {a.PARAM_NAMES[top]} ({r[3 + top]:.1%})" if r[2] > 0
                        else f"{cell_name(r)}: never")
    return ("Clipping bites in " + "; ".join(said) + ". Where it bites, it changes only the "
            "entries beyond ±5; at every other iteration the gradient is used as computed."
            if said else "These runs were trained before loss.csv logged clipping.")


def against_spread(d, width):
    """A difference against the seed spread, in words: within it (d <= width), about it (up to
    MARGIN times it) or beyond it; compared in points to one decimal, as the page prints them."""
    d, width = round(100 * d, 1), round(100 * width, 1)
    return "within" if d <= width else "about" if d <= round(MARGIN * width, 1) else "beyond"


def spread_text(rows, iters):
    """The cells' differences in the share of iterations clipped (one seed each) against the
    range over the vanilla seeds of section 1 (the rows after the three cells, but the last)."""
    cells = [r for r in rows[:3] if not math.isnan(r[2])]
    seeds = [r[2] for r in rows[3:-1] if not math.isnan(r[2])]
    if len(seeds) < 2 or len(cells) < 2:
        return ("One seed per cell, and fewer than two seeds of section 1 with clipping logged: "
                "the seed spread of these shares is not measured here.")
    lo, hi = min(seeds), max(seeds)
    width = hi - lo
    pairs = [(x, y, abs(x[2] - y[2])) for i, x in enumerate(cells) for y in cells[i + 1:]]
    say = [f"{cell_name(x)} against {cell_name(y)} {100 * d:.1f} points "
           f"({against_spread(d, width)} the spread)" for x, y, d in pairs]
    length = (f"over runs of {iters['exercise']:,} iterations rather than section 4's {iters['cells']:,}"
              if iters["exercise"] != iters["cells"] else "over runs as long as section 4's")
    noise = sorted({against_spread(d, width) for *_, d in pairs} - {"beyond"}, reverse=True)
    return (f"Each cell's share is one seed. The vanilla RNN's {len(seeds)} seeds of section 1 range from "
            f"{lo:.1%} to {hi:.1%}, a spread of {100 * width:.1f} points. As that spread comes from "
            f"{len(seeds)} seeds of the vanilla RNN only, {length}, a difference needs a margin over it: "
            f"up to the spread it is within the spread, up to {MARGIN:g} times it "
            f"({100 * MARGIN * width:.1f} points) about the spread, and above that beyond the spread. "
            f"The cells differ by: "
            + ", ".join(say) + "."
            + (f" A difference {' or '.join(noise)} the spread may be seed noise." if noise else ""))


def divergence_text(rows, finished):
    """In words: whether any run of the table stopped on the trainer's divergence check."""
    bad = [r[0] for r, (done, finite, _) in zip(rows, finished) if not (done and finite)]
    top = max(f[2] for f in finished)
    if bad:
        return (f"{', '.join(bad)} did not reach {'its' if len(bad) == 1 else 'their'} --iters with "
                f"finite losses; the others did, their smoothed loss at most {top:.2f} times a "
                f"uniform guess's.")
    return (f"No run of the table diverged: each reached its --iters with every logged loss finite, and "
            f"its smoothed loss was at most {top:.2f} times a uniform guess's (the trainer's check stops "
            f"a run above 2).")


def bh_vs_wxh(rows):
    """In words: in how many of the table's runs bh clipped more often than Wxh."""
    known = [r for r in rows if not math.isnan(r[2])]
    more = sum(r[3 + a.PARAM_NAMES.index("bh")] > r[3 + a.PARAM_NAMES.index("Wxh")] for r in known)
    return f"bh clipped more often than Wxh in {more} of the {len(known)} runs above"


def blocks_text(blocks):
    """Which block of bh clips most, per cell, in words."""
    said = []
    for cell in ("vanilla RNN", "LSTM", "GRU"):
        mine = [r for r in blocks if r[0] == cell]
        top = max(mine, key=lambda r: r[3])
        where = f", most in block {top[1]}" if len(mine) > 1 else ""
        said.append(f"{cell} {top[3]:.0%} of {top[2]} chunks{where}" if top[3] > 0
                    else f"{cell} in none of {top[2]} chunks")
    return "; ".join(said)


def page_text(rows, hp, blocks, seed, iters, finished):
    every, T = hp["log_every"], hp["seq_length"]
    md = [[r[0], f"{r[1]:,}", *(("n/a" if math.isnan(v) else f"{v:.1%}") for v in r[2:])] for r in rows]
    bmd = md_table(["cell", "block of bh", "chunks", "share of chunks with an entry at ±5"],
                   [[r[0], r[1], r[2], f"{r[3]:.0%}"] for r in blocks])
    return f"""\
Every gradient entry is clipped to [-5, 5] before the Adagrad step. This section counts how often
that changes anything; it does not measure whether gradients explode (a gradient can exceed 5
without exploding). The share of logged iterations (every {every}th and the last; every one in the
run of section 3) at which at least one entry of each parameter's gradient was clipped, from the
`clipped` column of each run's loss.csv:

{md_table(['run', 'logged iterations', 'any', *a.PARAM_NAMES], md)}

{textwrap.fill(findings(rows) + " " + spread_text(rows, iters), 96, break_on_hyphens=False)}

{textwrap.fill(divergence_text(rows, finished), 96, break_on_hyphens=False)}

**Where in bh clipping bites.** bh's gradient is the sum, over the {T} steps of a chunk, of the
gradient that reaches the pre-activations; Wxh's gradient is the same sum split among the columns
of the characters read, so an entry of bh's gradient is the sum of a row of Wxh's: where the
parts share a sign, bh's is the larger, and it reaches the limit first ({bh_vs_wxh(rows)}). Which
gate's block of bh it is, from each cell's final weights (section 4, seed {seed}) on the first chunks
of the training text, the state carried as training does:

{bmd}

In words: {blocks_text(blocks)}. These are the final weights only; the shares of the table above
are over the whole run.

Data: [clipping.csv](clipping.csv), [clipping-blocks.csv](clipping-blocks.csv). The runs are those
of sections 1, 3 and 4.
"""
