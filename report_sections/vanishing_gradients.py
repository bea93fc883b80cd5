"""Vanishing gradients, made visible: how strongly does the loss at step t depend on the
state k steps earlier, for each cell, trained and at initialisation, and what does that say
about truncating backpropagation at seq_length steps?

Runs: the checkpoints of cells/<cell>/seed-1 (nothing is trained for this section); the
initial weights are made again from each run's seed.
Writes: gradient-flow.png/.csv (|d loss_t / d state_(t-k)| against k), gradient-table.csv
(the decay per step before and beyond the truncation length).
"""
import math
import textwrap

import numpy as np

import analysis as a
import min_char_rnn as m
from charrnn.cells import CELLS, cell_module
from charrnn.text import split_heldout
from report_sections.page import STYLES, md_table, plt
from report_sections.runs import checkpoint


NAME = "gradients"
HEADING = "Vanishing gradients, made visible"
CONTENTS = "Vanishing gradients"

ORDER = ("rnn", "lstm", "gru")
WEIGHTS = ("trained", "initial")


def section(plan, out):
    """(page text, summary line) of the gradient flow."""
    K = plan.s["grad_k"]
    norms, c_part = {}, {}
    for cell in ORDER:
        state = checkpoint(plan.path("cells", cell, f"seed-{plan.s['cell_seeds'][0]}"))
        for when, g in gradients_of_run(plan, state):
            norms[(cell, when)] = a.geometric_mean(np.linalg.norm(g, axis=2), axis=1)
            if cell == "lstm":  # the c half of the LSTM's state
                H = state["hparams"]["hidden_size"]
                c_part[when] = a.geometric_mean(np.linalg.norm(g[:, :, H:], axis=2), axis=1)
    hp = state["hparams"]
    T = hp["seq_length"]
    fig_name = gradient_figure(out, norms, c_part, T)
    keys = [(c, w) for w in WEIGHTS for c in ORDER]
    out.csv("gradient-flow.csv", ["k"] + [f"{c}-{w}" for c, w in keys] + ["lstm-c-trained", "lstm-c-initial"],
            [[j] + [float(norms[key][j]) for key in keys]
             + [float(c_part["trained"][j]), float(c_part["initial"][j])] for j in range(K + 1)])
    rows = gradient_table(norms, keys, T, K)
    out.csv("gradient-table.csv", ["cell", "weights", "norm at k=0", f"ratio k={T}/k=0",
                                   f"ratio k={K}/k=0", f"factor per step, k=0..{T}",
                                   f"factor per step, k={T}..{K}"], rows)
    page = page_text(plan, hp, fig_name, rows)
    per_step = ", ".join(f"{r[0]} {r[1]} {r[5]:.3f} / {r[6]:.3f}" for r in rows if r[1] == "trained")
    return page, f"  gradient per step back (trained, k up to / beyond the truncation): {per_step}"


def gradients_of_run(plan, state):
    """Yield ("trained" | "initial", d loss_t / d state_(t-k), (K + 1, B, S)) of a run's cell, at
    grad_streams positions spread evenly over the training text, each with grad_k + grad_warmup
    characters before it; "initial" uses the weights the run started from (its seed)."""
    K, B, W = plan.s["grad_k"], plan.s["grad_streams"], plan.s["grad_warmup"]
    hp, cell = state["hparams"], state["hparams"]["cell"]
    _, data = m.build_vocab(plan.text)
    train_part, _ = split_heldout(data, hp["val_frac"])
    ends = np.linspace(K + W, len(train_part) - 2, B).astype(int)
    inputs, targets = a.windows(train_part, ends, K + W + 1)
    initial = cell_module(cell).init_params(len(state["chars"]), hp["hidden_size"],
                                            np.random.default_rng(hp["seed"]))
    for when, params in (("trained", state["params"]), ("initial", initial)):
        yield when, a.state_gradients(cell, params, inputs, targets, K)  # one at a time: they are large


def gradient_figure(out, norms, c_part, T):
    """The norms against k on a log scale: trained weights left, initial weights right."""
    k = np.arange(len(c_part["trained"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, when in zip(axes, WEIGHTS):
        for i, cell in enumerate(ORDER):
            ax.semilogy(k, norms[(cell, when)], label=CELLS[cell] + " (h and c)" * (cell == "lstm"),
                        linewidth=1.6, **STYLES[i])
        ax.semilogy(k[1:], c_part[when][1:], label="LSTM, the c part alone", color="0.5",
                    linewidth=0.8, linestyle=(0, (1, 3)))  # (loss_t sees c_t only through h_t: 0 at k = 0)
        ax.axvline(T, color="0.3", linewidth=0.8)
        ax.text(T + 1, 0.98, f"truncation: {T} steps", transform=ax.get_xaxis_transform(),
                va="top", fontsize=8)
        ax.set(xlabel="k, steps back in time",
               title=("after training" if when == "trained" else "at initialisation"))
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("|d loss_t / d state_(t-k)|, geometric mean")
    # a vanilla RNN at initialisation falls by dozens of orders of magnitude: keep the axis readable
    low = min(float(v[1:].min()) for v in norms.values())
    high = max(float(v.max()) for v in norms.values())
    axes[0].set_ylim(max(low / 3, 1e-30), high * 3)
    axes[0].legend(fontsize=8)
    return out.figure(fig, "gradient-flow")


def gradient_table(norms, keys, T, K):
    """Rows (cell, weights, norm at 0, ratio at T, ratio at K, factor per step up to T, beyond T)."""
    k = np.arange(K + 1)
    rows = []
    for cell, when in keys:
        g = norms[(cell, when)]
        near, far = a.decay_per_step(k, g, 0, T), a.decay_per_step(k, g, T, K)
        rows.append([CELLS[cell], when, float(g[0]), float(g[T] / g[0]), float(g[K] / g[0]), near, far])
    return rows


def page_text(plan, hp, fig_name, rows):
    K, B, W, T = plan.s["grad_k"], plan.s["grad_streams"], plan.s["grad_warmup"], hp["seq_length"]
    md = [[r[0], r[1], f"{r[2]:.2f}", f"{r[3]:.1e}", f"{r[4]:.1e}", f"{r[5]:.3f}", f"{r[6]:.3f}"]
          for r in rows]
    grad_md = md_table(["cell", "weights", "norm at k=0", f"k={T} / k=0", f"k={K} / k=0",
                        f"per step, k=0..{T}", f"per step, k={T}..{K}"], md)
    explain = slope_text({r[0]: r for r in rows if r[1] == "trained"},
                         {r[0]: r for r in rows if r[1] == "initial"}, T, K)
    return f"""\
For each trained cell of section 4, and the same cell with its initial weights, the norm of the
gradient of the loss at step t with respect to the recurrent state k steps earlier,
|d loss_t / d state_(t-k)|, for k = 0 to {K}: at {B} positions spread over the training text
(each read from a zero state {W + K} characters before, so the state is a typical one), averaged
in log space (a geometric mean: the norms span many orders of magnitude). The state is what the
training loop carries from chunk to chunk and truncated BPTT cuts: h for the vanilla RNN and the
GRU, h and c together (2 x {hp['hidden_size']} numbers) for the LSTM, because c is the LSTM's
long-term path and h alone would hide it; the dotted grey line shows the c part alone. The
vertical line is the truncation length, {T} characters per chunk.

![Gradient norm against k]({fig_name})

{grad_md}

{explain}

Reproduce: `{plan.args.report_cmd}` (this part: `analysis.state_gradients` on the checkpoints of
section 4, checked against finite differences in `tests/test_analysis.py`).
"""


def efold(f):
    """Steps over which a per-step factor f shrinks the gradient by e."""
    return 1 / -math.log(f) if 0 < f < 1 else float("inf")


def slope_text(tr, ini, T, K):
    """What the slopes say, in words, with this report's numbers (rows of the gradient table
    by cell name, trained weights tr and initial ones ini)."""
    van, lstm, gru = tr["vanilla RNN"], tr["LSTM"], tr["GRU"]
    out = [f"On a log scale a straight line is exponential decay: a slope of log10(f) per step "
           f"means that each step back multiplies the gradient by f, so that it shrinks by a "
           f"factor e every 1 / -ln(f) steps. The trained vanilla RNN's f is {van[5]:.2f} over the "
           f"first {T} steps (a factor e every {efold(van[5]):.1f} steps): the loss at step t "
           f"feels the state {T} steps back at {van[3]:.0e} of the strength of the state at t, "
           f"and {K} steps back at {van[4]:.0e}."]
    if van[3] < 0.01:
        out.append(f"Truncating backpropagation at {T} steps therefore throws away little that "
                   f"the vanilla RNN could have learnt from: by the chunk boundary its gradient "
                   f"has all but vanished anyway, and that decay, not the truncation, is why it "
                   f"cannot learn dependencies much longer than a few e-folds.")
    else:
        out.append(f"So a good part of the gradient is still there at the chunk boundary, and "
                   f"truncating at {T} steps cuts it off.")
    gated = [f"the {name}'s falls by {row[6]:.3f} per step beyond {T} ({row[4]:.0e} at k = {K}), "
             f"{'more slowly than' if row[6] > van[6] else 'no more slowly than'} the vanilla RNN's "
             f"{van[6]:.3f}" for name, row in (("LSTM", lstm), ("GRU", gru))]
    out.append("Of the gated cells, " + "; ".join(gated) + ".")
    if lstm[6] > van[6] or gru[6] > van[6]:
        out.append(f"A gated cell carries its state from step to step through a gated sum "
                   f"(c_t = f * c_(t-1) + i * g in the LSTM, h_t = (1 - u) * n + u * h_(t-1) in "
                   f"the GRU) rather than through a squashing matrix product alone, so where a "
                   f"forget gate f or an update gate u stays near 1 the gradient passes almost "
                   f"unchanged. For such a cell the truncation at {T} steps, more than the "
                   f"decay, is what cuts off the longer dependencies: a longer --seq-length "
                   f"would let it learn from more of the past.")
    out.append(initial_text(ini, T))
    paragraphs = (" ".join(out[:2]), " ".join(out[2:-1]), out[-1])
    return "\n\n".join(textwrap.fill(p, 96, break_on_hyphens=False) for p in paragraphs)


def initial_text(ini, T):
    """What the slopes at initialisation say: each cell's design."""
    return (f"At initialisation the picture is the design of each cell: the vanilla RNN's "
            f"weights of size 0.01 make f = {ini['vanilla RNN'][5]:.3f}, so the gradient is "
            f"gone after a few steps until training grows Whh; the LSTM starts at "
            f"{ini['LSTM'][5]:.2f}, about sigmoid(1) = 0.73, its forget gate's initial bias; "
            f"the GRU at {ini['GRU'][5]:.2f}, about its update gate's initial 0.5. Within a "
            f"chunk the loss at position t reaches back only t steps anyway, "
            f"{T / 2 - 0.5:.0f} on average.")
