"""Vanilla RNN vs LSTM vs GRU: with the same hidden size, optimizer, data and seed, which
cell predicts text it has never seen best, with how many parameters, at what speed?

Runs: cells/rnn/seed-1, cells/lstm/seed-1, cells/gru/seed-1 (cell_iters iterations each, the
last tenth of the text held out, evaluated every eval_every iterations), and their outcomes
in logs/cells-<cell>-seed-1.json (the training speed).
Writes: cells-heldout.png/.csv (held-out bits per character against iteration), cells.csv.
"""
from charrnn.cells import CELLS
from charrnn.logs import bits_per_char
from report_sections.page import MARKERS, STYLES, f2, md_table, plt, reproduce
from report_sections.runs import checkpoint, heldout_columns, loss_columns
from report_sections.training import training_speed


NAME = "cells"
HEADING = "Vanilla RNN vs LSTM vs GRU"
CONTENTS = "Vanilla RNN vs LSTM vs GRU"

ORDER = ("rnn", "lstm", "gru")  # of the curves and the table's rows
COLUMNS = ["cell", "seed", "parameters", "final held-out bpc", "lowest held-out bpc",
           "final smoothed training bpc", "iterations per second", "training seconds"]


def section(plan, out):
    """(page text, summary line) of the comparison of the cells."""
    curves, table = {}, []
    for cell in ORDER:
        for seed in plan.s["cell_seeds"]:
            curves[(cell, seed)] = heldout_columns(plan.path("cells", cell, f"seed-{seed}"))
            table.append(cell_row(plan, cell, seed, curves[(cell, seed)][1]))
    hp = checkpoint(plan.path("cells", "gru", f"seed-{plan.s['cell_seeds'][-1]}"))["hparams"]
    fig_name = heldout_figure(out, curves, hp["val_frac"], len(plan.s["cell_seeds"]) > 1)
    its = sorted(set().union(*(set(c[0].tolist()) for c in curves.values())))
    cols = {k: dict(zip(c[0].tolist(), c[1].tolist())) for k, c in curves.items()}
    out.csv("cells-heldout.csv", ["iteration"] + [f"{c}-seed-{sd}" for c, sd in curves],
            [[i] + [cols[k].get(i, float("nan")) for k in curves] for i in its])
    out.csv("cells.csv", COLUMNS, table)
    final = {r[0]: r[3] for r in table}
    summary = "  held-out bits per character: " + ", ".join(f"{c} {v:.3f}" for c, v in final.items())
    return page_text(plan, hp, fig_name, table), summary


def cell_row(plan, cell, seed, bpc):
    """A row of cells.csv: the run's size, its held-out and training bpc, its speed."""
    run = plan.path("cells", cell, f"seed-{seed}")
    state = checkpoint(run)
    n_params = sum(p.size for p in state["params"].values())
    rate, secs = training_speed(plan.log_path(f"cells/{cell}/seed-{seed}", "json"))
    _, _, smooth = loss_columns(run)
    return [CELLS[cell], seed, n_params, float(bpc[-1]), float(bpc.min()),
            bits_per_char(float(smooth[-1]), state["hparams"]["seq_length"]), rate, secs]


def heldout_figure(out, curves, val_frac, several_seeds):
    """Held-out bits per character against iteration, a curve per run."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (cell, seed), (it, bpc) in curves.items():
        i = ORDER.index(cell)
        label = CELLS[cell] + (f", seed {seed}" if several_seeds else "")
        ax.plot(it, bpc, marker=MARKERS[i], markersize=3, label=label, **STYLES[i])
    ax.set(xlabel="iteration", ylabel="held-out bits per character",
           title=f"Held-out text ({val_frac:.0%} of it, never trained on)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if all(len(b) > 1 for _, b in curves.values()):
        top = max(b[1:].max() for _, b in curves.values())
        ax.set_ylim(top=top * 1.05 + 0.05)  # the untrained point (log2 of the vocabulary) off the top
    return out.figure(fig, "cells-heldout")


def page_text(plan, hp, fig_name, table):
    md = [[r[0], f"{r[2]:,}", f"{r[3]:.3f}", f"{r[4]:.3f}", f"{r[5]:.3f}", f2(r[6], 0)] for r in table]
    best = min(table, key=lambda r: r[3])
    cells_md = md_table(["cell", "parameters", "final held-out bpc", "lowest held-out bpc",
                         "final training bpc (smoothed)", "iterations per second"], md)
    return f"""\
The three cells with the same hidden size ({hp['hidden_size']}), optimizer (Adagrad, learning rate
{hp['learning_rate']}), chunk length ({hp['seq_length']}), seed and data, {plan.s['cell_iters']:,}
iterations each; the last {hp['val_frac']:.0%} of the text is held out (never trained on) and
read every {hp['eval_every']:,} iterations as 100 streams from a zero state: its bits per
character measure how well each model predicts text it has not seen. (The untrained models'
point at iteration 0, about log2 of the vocabulary size, is above the top of the figure.)

![Held-out bits per character]({fig_name})

{cells_md}

{best[0]} ends lowest on the held-out text. The gated cells have {table[1][2] / table[0][2]:.1f} (LSTM)
and {table[2][2] / table[0][2]:.1f} (GRU) times the vanilla RNN's parameters and take longer per
iteration; speed is the trainer's own count (iterations over the seconds of its loop, held-out
evaluations included), with {plan.args.jobs} runs sharing the machine's cores. Data:
[cells-heldout.csv](cells-heldout.csv), [cells.csv](cells.csv).

{reproduce(plan, 'cells')}"""
