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
from charrnn.model import CELLS, cell_module
from charrnn.text import build_vocab, split_heldout
from report_sections.page import STYLES, md_table, plt
from report_sections.runs import checkpoint
from report_sections.truncation_costs import FORMULA, formula_bytes


NAME = "gradients"
HEADING = "Vanishing gradients, made visible"
CONTENTS = "Vanishing gradients"

ORDER = ("rnn", "lstm", "gru")
WEIGHTS = ("trained", "initial")


def section(plan, out):
    """(page text, summary line) of the gradient flow."""
    K = plan.s["grad_k"]
    norms, c_part, states = {}, {}, {}
    for cell in ORDER:
        states[cell] = state = checkpoint(plan.path("cells", cell, f"seed-{plan.s['cell_seeds'][0]}"))
        for when, g in gradients_of_run(plan, state):
            norms[(cell, when)] = log_mean(np.linalg.norm(g, axis=2))
            if cell == "lstm":  # the c half of the LSTM's state
                H = state["hparams"]["hidden_size"]
                c_part[when] = log_mean(np.linalg.norm(g[:, :, H:], axis=2))
    hp = states["rnn"]["hparams"]
    T = hp["seq_length"]
    fig_name = gradient_figure(out, norms, c_part, T)
    sat = saturation_rows(plan, states["rnn"])
    out.csv("saturation.csv", ["weights", "share of |h| > 0.95", "mean tanh'", "spectral radius of Whh",
                               "largest singular value of Whh"], sat)
    keys = [(c, w) for w in WEIGHTS for c in ORDER]
    out.csv("gradient-flow.csv", ["k"] + [f"{c}-{w}" for c, w in keys] + ["lstm-c-trained", "lstm-c-initial"],
            [[j] + [float(norms[key][j]) for key in keys]
             + [float(c_part["trained"][j]), float(c_part["initial"][j])] for j in range(K + 1)])
    rows = gradient_table(norms, keys, T, K)
    out.csv("gradient-table.csv", ["cell", "weights", "norm at k=0", f"ratio k={T}/k=0",
                                   f"ratio k={K}/k=0", f"factor per step, k=0..{T}",
                                   f"factor per step, k={T}..{K}"], rows)
    van = norms[("rnn", "trained")]
    below = np.flatnonzero(van < van[0] / 100)  # where the trained vanilla RNN's falls below 1%
    page = page_text(plan, states["rnn"], fig_name, rows, sat, int(below[0]) if below.size else None)
    per_step = ", ".join(f"{r[0]} {r[1]} {r[5]:.3f} / {r[6]:.3f}" for r in rows if r[1] == "trained")
    return page, f"  gradient per step back (trained, k up to / beyond the truncation): {per_step}"


def log_mean(norms):
    """The geometric mean over the streams (axis 1) of norms (K + 1, B): exactly 0 where a norm
    is exactly 0 (the LSTM's c part at k = 0), with no floor in the numbers written."""
    zero = (norms == 0).any(axis=1)
    return np.where(zero, 0.0, a.geometric_mean(np.where(zero[:, None], 1.0, norms), axis=1))


def positive(v):
    """v with its zeros (and any negative) as nan: a log axis leaves them out."""
    return np.where(v > 0, v, np.nan)


def positions(plan, state):
    """inputs (grad_k + grad_warmup + 1, B) and targets (B,) at grad_streams positions spread
    evenly over the training text, each with grad_k + grad_warmup characters before it."""
    K, B, W = plan.s["grad_k"], plan.s["grad_streams"], plan.s["grad_warmup"]
    _, data = build_vocab(plan.text)
    train_part, _ = split_heldout(data, state["hparams"]["val_frac"])
    ends = np.linspace(K + W, len(train_part) - 2, B).astype(int)
    return a.windows(train_part, ends, K + W + 1)


def initial_params(state):
    """The weights the run started from (made again from its seed)."""
    hp = state["hparams"]
    return cell_module(hp["cell"]).init_params(len(state["chars"]), hp["hidden_size"],
                                               np.random.default_rng(hp["seed"]))


def gradients_of_run(plan, state):
    """Yield ("trained" | "initial", d loss_t / d state_(t-k), (K + 1, B, S)) of a run's cell, at
    the positions; "initial" uses the weights the run started from (its seed)."""
    inputs, targets = positions(plan, state)
    cell = state["hparams"]["cell"]
    for when, params in (("trained", state["params"]), ("initial", initial_params(state))):
        yield when, a.state_gradients(cell, params, inputs, targets, plan.s["grad_k"])  # one at a time


def saturation_rows(plan, state):
    """The vanilla RNN's hidden units and Whh, trained and initial: rows (weights, share of
    |h| > 0.95, mean tanh', spectral radius of Whh, largest singular value of Whh), over every
    state the positions read after their warm-up."""
    inputs, _ = positions(plan, state)
    rows = []
    for when, params in (("trained", state["params"]), ("initial", initial_params(state))):
        hs = a.rnn_forward(params, inputs)["h"][plan.s["grad_warmup"] + 1:]
        hs = hs.reshape(-1, hs.shape[-1])
        share, slope = a.saturation(hs)
        rows.append([when, share, slope, a.spectral_radius(params["Whh"]),
                     float(np.linalg.norm(params["Whh"], 2))])
    return rows


def gradient_figure(out, norms, c_part, T):
    """The norms against k on a log scale: trained weights left, initial weights right."""
    k = np.arange(len(c_part["trained"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, when in zip(axes, WEIGHTS):
        for i, cell in enumerate(ORDER):
            ax.semilogy(k, positive(norms[(cell, when)]), label=CELLS[cell] + " (h and c)" * (cell == "lstm"),
                        linewidth=1.6, **STYLES[i])
        ax.semilogy(k[1:], positive(c_part[when][1:]), label="LSTM, the c part alone", color="0.5",
                    linewidth=0.8, linestyle=(0, (1, 3)))  # (loss_t sees c_t only through h_t: 0 at k = 0)
        ax.axvline(T, color="0.3", linewidth=0.8)
        ax.text(T + 1, 0.98, f"truncation: {T} steps", transform=ax.get_xaxis_transform(),
                va="top", fontsize=8)
        ax.set(xlabel="k, steps back in time",
               title=("after training" if when == "trained" else "at initialisation"))
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("|d loss_t / d state_(t-k)|, geometric mean")
    # a vanilla RNN at initialisation falls by dozens of orders of magnitude: keep the axis readable
    low = min(float(np.nanmin(positive(v[1:]))) for v in norms.values())
    high = max(float(np.nanmax(positive(v))) for v in norms.values())
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


def where(module, what):
    """A pointer to another section of the page by its module (report.py's SECTIONS): "section
    N" when it is on the page, else a description of what would measure it."""
    from report import SECTIONS  # here: report.py imports this module's package first
    if module in SECTIONS:
        return f"section {SECTIONS.index(module) + 1}"
    return f"a run {what} (not on this page)"


def bptt_text(plan, state):
    """The exercise's question on backpropagation through time and its truncation, with this
    text's numbers (state: the vanilla RNN's checkpoint, whose lossFun the memory is of)."""
    hp = state["hparams"]
    T, H, V, n = hp["seq_length"], hp["hidden_size"], len(state["chars"]), len(plan.text)
    cost = where("truncation_costs", "with a longer --seq-length")
    recall = where("long_range_dependency", "on such a text")
    formula = f"the formula of {cost}" if cost.startswith("section") else "the formula in truncation_costs.py"
    return textwrap.fill(
        f"**Backpropagation through time (BPTT)**: unroll the network over the input sequence, one copy "
        f"per time step, all copies sharing the same weights, and apply the chain rule backward through "
        f"the unrolled graph; the gradient of a shared weight is the sum of its gradients at every step. "
        f"The gradient of the loss at step t with respect to the state k steps earlier is a product of k "
        f"one-step Jacobians, d state_(s+1) / d state_s, which is what the figure below follows. "
        f"**Truncated BPTT**, what `lossFun` does: the text is cut into chunks of seq_length = {T} "
        f"characters; the forward pass carries the hidden state from chunk to chunk (it sees the whole "
        f"past), but the backward pass stops at the chunk's start, and the weights are updated after "
        f"every chunk. Why it is used in practice: by {formula} for the memory the vanilla RNN's "
        f"backward pass holds, {FORMULA['rnn']} bytes ({formula_bytes('rnn', 1, H, V):,} bytes a "
        f"character with H = {H}, V = {V}), full BPTT over this text, T = {n:,} characters, would hold "
        f"{formula_bytes('rnn', n, H, V) / 2 ** 30:.1f} GiB and update the weights once per pass through "
        f"the text; truncated at T = {T}, it holds {formula_bytes('rnn', T, H, V) / 1024:,.0f} KiB and "
        f"updates {n // T:,} times per pass. The price: no gradient reaches a state more than {T} steps "
        f"back (fewer for most positions of a chunk: the loss at position t reaches back only t steps, "
        f"{(T - 1) / 2:.0f} on average), so the truncated gradient gives no direct signal for a "
        f"dependency longer than that. Whether a cell learns such a dependency all the same is measured "
        f"on a text with a planted long-range dependency ({recall}); "
        f"what longer chunks cost and gain, in {cost}.", 96, break_on_hyphens=False) + "\n"


def page_text(plan, state, fig_name, rows, sat, below):
    hp = state["hparams"]
    K, B, W, T = plan.s["grad_k"], plan.s["grad_streams"], plan.s["grad_warmup"], hp["seq_length"]
    md = [[r[0], r[1], f"{r[2]:.2f}", f"{r[3]:.1e}", f"{r[4]:.1e}", f"{r[5]:.3f}", f"{r[6]:.3f}"]
          for r in rows]
    grad_md = md_table(["cell", "weights", "norm at k=0", f"k={T} / k=0", f"k={K} / k=0",
                        f"per step, k=0..{T}", f"per step, k={T}..{K}"], md)
    sat_md = md_table(["vanilla RNN", "share of units with abs(h) > 0.95", "mean tanh' = 1 - h^2",
                       "spectral radius of Whh", "largest singular value of Whh"],
                      [[r[0], f"{r[1]:.0%}", f"{r[2]:.3f}", f"{r[3]:.2f}", f"{r[4]:.2f}"]
                       for r in sat])
    explain = slope_text({r[0]: r for r in rows if r[1] == "trained"},
                         {r[0]: r for r in rows if r[1] == "initial"}, T, K, below)
    return f"""\
{bptt_text(plan, state)}
For each cell of section 4 (seed {plan.s['cell_seeds'][0]}), trained and with its initial weights, the
norm of the gradient of the loss at step t with respect to the recurrent state k steps earlier,
|d loss_t / d state_(t-k)|, for k = 0 to {K}: at {B} positions spread over the training text
(each read from a zero state {W + K} characters before, so that the state has moved away from
that start; for a cell that forgets slowly, some of the zero start may remain at the largest k:
section 2 measures how many characters each model's states take to agree), averaged
in log space (a geometric mean: the norms span many orders of magnitude). The state is what the
training loop carries from chunk to chunk and truncated BPTT cuts: h for the vanilla RNN and the
GRU, h and c together (2 x {hp['hidden_size']} numbers) for the LSTM, because c is the LSTM's
long-term path and h alone would hide it; the dotted grey line shows the c part alone. The
vertical line is the truncation length, {T} characters per chunk. One seed per cell.

![Gradient norm against k]({fig_name})

{grad_md}

{explain}

**Why the vanilla RNN's gradient vanishes.** Each step back multiplies the gradient by the step's
Jacobian, diag(1 - h^2) Whh: a factor from the tanh (its slope, tanh' = 1 - h^2, at the step's
hidden values) and the recurrent matrix. Over the states the positions above read:

{sat_md}

{saturation_text(sat, plan.s['cell_seeds'][0])}

Data: [gradient-flow.csv](gradient-flow.csv), [gradient-table.csv](gradient-table.csv),
[saturation.csv](saturation.csv). Reproduce: `{plan.args.report_cmd}` (this part:
`analysis.state_gradients`, checked against finite differences in `tests/test_analysis.py`, and
`analysis.saturation`, `spectral_radius`).
"""


def saturation_text(sat, seed):
    """What the saturation table says, with its numbers."""
    tr, ini = sat[0], sat[1]
    if tr[3] > 1:
        trained = (f"After training Whh is not small: its spectral radius is {tr[3]:.1f}, so Whh alone "
                   f"would stretch the gradient in the long run, not shrink it. What shrinks it is the "
                   f"tanh: {tr[1]:.0%} of the hidden values sit at |h| > 0.95, where tanh is flat, "
                   f"and the mean slope tanh' is {tr[2]:.2f}, so each step back multiplies most "
                   f"directions of the gradient by a small slope.")
    else:
        trained = (f"After training Whh's spectral radius is {tr[3]:.2f}, below 1, and {tr[1]:.0%} of "
                   f"the hidden values sit at |h| > 0.95 (mean tanh' {tr[2]:.2f}): both shrink the "
                   f"gradient.")
    if tr[3] > 1 > ini[3] and ini[1] < tr[1]:
        initial = (f"At initialisation it is the other way round: the units are less saturated "
                   f"({ini[1]:.0%} at |h| > 0.95, mean tanh' {ini[2]:.2f}) but Whh is small (spectral "
                   f"radius {ini[3]:.2f}, its weights drawn with standard deviation 0.01), so the gradient "
                   f"vanishes through Whh. Training grew Whh, and the units saturated: the gradient still "
                   f"vanishes, for another reason.")
    else:
        initial = (f"At initialisation {ini[1]:.0%} of the hidden values sit at |h| > 0.95 (mean tanh' "
                   f"{ini[2]:.2f}) and Whh's spectral radius is {ini[3]:.2f}.")
    return textwrap.fill(f"{trained} {initial} One seed: these are seed {seed}'s numbers.", 96,
                         break_on_hyphens=False)


def efold(f):
    """Steps over which a per-step factor f shrinks the gradient by e."""
    return 1 / -math.log(f) if 0 < f < 1 else float("inf")


def slope_text(tr, ini, T, K, below):
    """What the slopes say, in words, with this report's numbers (rows of the gradient table
    by cell name, trained weights tr and initial ones ini; below: the first k at which the
    trained vanilla RNN's norm is under 1% of its k = 0 value, None if it never is)."""
    van, lstm, gru = tr["vanilla RNN"], tr["LSTM"], tr["GRU"]
    out = [f"On a log scale a straight line is exponential decay: a slope of log10(f) per step "
           f"means that each step back multiplies the gradient by f, so that it shrinks by a "
           f"factor e every 1 / -ln(f) steps. The trained vanilla RNN's f is {van[5]:.2f} over the "
           f"first {T} steps (a factor e every {efold(van[5]):.1f} steps): the loss at step t "
           f"feels the state {T} steps back at {van[3]:.0e} of the strength of the state at t, "
           f"and {K} steps back at {van[4]:.0e}"
           + (f"; it first falls below 1% of its strength at k = 0 at k = {below}, in a chunk of {T}."
              if below is not None else ".")]
    gated = [f"the {name}'s falls by {row[6]:.3f} per step beyond {T} ({row[4]:.0e} at k = {K}), "
             f"{'more slowly than' if row[6] > van[6] else 'no more slowly than'} the vanilla RNN's "
             f"{van[6]:.3f}" for name, row in (("LSTM", lstm), ("GRU", gru))]
    out.append("Of the gated cells, " + "; ".join(gated) + ". A gated cell carries its state from "
               "step to step through a gated sum (c_t = f * c_(t-1) + i * g in the LSTM, h_t = "
               "(1 - u) * n + u * h_(t-1) in the GRU) rather than through a squashing matrix product "
               "alone, so where a forget gate f or an update gate u stays near 1 the gradient passes "
               "almost unchanged. Whether a cell learns dependencies longer than its truncation, and "
               "whether a longer --seq-length moves that limit, this figure does not show: see "
               + where("long_range_dependency", "on a text with a planted long-range dependency") + ".")
    out.append(f"At initialisation the picture is the design of each cell: the vanilla RNN's "
               f"f = {ini['vanilla RNN'][5]:.3f}; the LSTM starts at {ini['LSTM'][5]:.2f}, about "
               f"sigmoid(1) = 0.73, its forget gate's initial bias; the GRU at {ini['GRU'][5]:.2f}, "
               f"about its update gate's initial 0.5.")
    return "\n\n".join(textwrap.fill(p, 96, break_on_hyphens=False) for p in out)
