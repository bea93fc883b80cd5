"""What truncation costs and saves: for each --seq-length T, the time per character and per
update, the memory the backward pass holds, the updates per character, and the held-out bits
per character after the same characters seen and after the same training time.

Runs: truncation/<cell>/seq-<T> (bptt_runs.py): the vanilla RNN and the LSTM on the report's
text, 10% held out, trunc_chars characters seen by every run (iterations = trunc_chars / T),
evaluated every trunc_eval_chars characters; their outcomes in logs/truncation-<cell>-seq-<T>.json.
Measured here, in this process: the seconds of one update (lossFun and the Adagrad step, as
the training loop runs them) and the peak of the arrays one lossFun call allocates (tracemalloc).
Writes: truncation.png/.csv (held-out bpc against characters seen and against seconds),
truncation-costs.csv (one row per cell and T).
"""
import math
import tracemalloc

import numpy as np

import analysis as a
from charrnn.model import CELLS, cell_module
from charrnn.text import build_vocab, split_heldout
from report_sections import bptt_runs as b
from report_sections.page import MARKERS, STYLES, md_table, plt, reproduce
from report_sections.runs import TIMING_CHARS, checkpoint, heldout_columns, update_timings
from report_sections.training import training_speed


NAME = "truncation"
HEADING = "What truncating backpropagation costs and saves"
CONTENTS = "What truncation costs and saves"

# The arrays lossFun holds at its peak, in floats (read from the code). Vanilla, per time step:
# xh and hs (2 H) all along; with ys and ps (2 V) and dhraw (H) in softmax_loss, or with dhraw,
# dtanh (2 H) and the one-hot inputs (V) at the end: 3 H + V + max(H, V). LSTM (for H > V), per
# step: xz, gates, factors, dz (4 H each), hs, cs, tcs, dhs, dc_dh (H each) and the one-hot
# inputs: 21 H + V; and once per call Whh_s, the copy of Whh with halved rows: 4 H^2.
FORMULA = {"rnn": "8 T (3 H + V + max(H, V))", "lstm": "8 (T (21 H + V) + 4 H^2)"}
FULL_TEXT = 1_000_000  # characters of the "1 MB text" read as one chunk
COLUMNS = ["cell", "seq_length", "parameters", "iterations", "updates per character",
           "microseconds per character", "milliseconds per update", "backward memory measured (bytes)",
           "backward memory formula (bytes)", "held-out bpc at equal characters",
           "held-out bpc at equal seconds", "runs' own characters per second",
           "slowest of the three timing repeats over the fastest, minus 1"]


def formula_bytes(cell, T, H, V):
    """The bytes of the arrays lossFun holds at its peak, for a chunk of T characters (FORMULA)."""
    if cell == "rnn":
        return 8 * T * (3 * H + V + max(H, V))
    return 8 * (T * (21 * H + V) + 4 * H * H)


def setup(plan, cell, T):
    """(cell module, a copy of the run's parameters, the training text's indices, H, V)."""
    state = checkpoint(b.truncation_out(plan, cell, T))
    _, data = build_vocab(plan.text, state["chars"])
    train_part, _ = split_heldout(data, state["hparams"]["val_frac"])
    params = {k: v.copy() for k, v in state["params"].items()}
    return cell_module(cell), params, train_part, state["hparams"]["hidden_size"], len(state["chars"])


def measured_bytes(mod, params, data, T):
    """The peak bytes allocated during one lossFun call (its gradients go to a given buffer)."""
    grads = np.empty(sum(v.size for v in params.values()))
    h = mod.zero_state(params["Whh"].shape[1])
    mod.lossFun(data[:T], data[1:T + 1], h, params, grads)  # once before: nothing first-time counted
    tracemalloc.start()
    try:
        mod.lossFun(data[:T], data[1:T + 1], h, params, grads)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(plan):
    """(rows of truncation-costs.csv, curves {(cell, T): (characters, seconds, bpc)})."""
    s, rows, curves = plan.s, [], {}
    timing_chars = min(TIMING_CHARS, s["trunc_chars"])
    for cell in s["trunc_cells"]:
        for T in s["trunc_seq"]:
            mod, params, data, H, V = setup(plan, cell, T)
            repeats = update_timings(mod, params, data, T, timing_chars)
            spu = min(repeats)  # the fastest repeat
            it, bpc = heldout_columns(b.truncation_out(plan, cell, T))
            curves[(cell, T)] = (it * T, it * spu, bpc)
            rate, _ = training_speed(plan.log_path(f"truncation/{cell}/seq-{T}", "json"))
            rows.append([CELLS[cell], T, sum(p.size for p in params.values()), s["trunc_chars"] // T,
                         1 / T, 1e6 * spu / T, 1e3 * spu, measured_bytes(mod, params, data, T),
                         formula_bytes(cell, T, H, V), float(bpc[-1]), math.nan, rate * T,
                         max(repeats) / spu - 1])
        # the same seconds for every T: as long as the fastest run of this cell trained
        mine = [r for r in rows if r[0] == CELLS[cell]]
        budget = min(curves[(cell, r[1])][1][-1] for r in mine)
        for r in mine:
            _, secs, bpc = curves[(cell, r[1])]
            r[10] = a.value_at(secs, bpc, budget)
    return rows, curves


def figure(out, plan, curves):
    """Held-out bpc against characters seen (left) and against seconds of updates (right), a
    row per cell, a line per T."""
    cells, Ts = plan.s["trunc_cells"], plan.s["trunc_seq"]
    fig, axes = plt.subplots(len(cells), 2, figsize=(11, 3.8 * len(cells)), squeeze=False)
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(Ts)))
    for row, cell in zip(axes, cells):
        for j, T in enumerate(Ts):
            chars, secs, bpc = curves[(cell, T)]
            for ax, x in zip(row, (chars, secs)):
                ax.plot(x[1:], bpc[1:], color=colours[j], marker=MARKERS[j % len(MARKERS)], markersize=3,
                        linestyle=STYLES[j % len(STYLES)]["linestyle"], label=f"--seq-length {T}")
        row[0].set(xlabel="characters seen", ylabel="held-out bits per character", title=CELLS[cell])
        row[1].set(xlabel="seconds of updates (measured per update, times the updates)",
                   title=f"{CELLS[cell]}: the same, against time")
        budget = min(curves[(cell, T)][1][-1] for T in Ts)
        row[1].axvline(budget, color="black", linewidth=0.8, linestyle=":")  # "equal seconds"
        for ax in row:
            ax.grid(True, alpha=0.3)
        row[1].legend(fontsize=8)
    return out.figure(fig, "truncation")


def section(plan, out):
    """(page text, summary line) of the truncation experiment."""
    rows, curves = measure(plan)
    out.csv("truncation-costs.csv", COLUMNS, rows)
    Ts = plan.s["trunc_seq"]
    out.csv("truncation.csv",
            ["cell", "seq_length", "iteration", "characters seen", "seconds", "held-out bpc"],
            [[CELLS[c], T, int(ch // T), int(ch), float(sec), float(v)]
             for (c, T), (chs, secs, bpc) in curves.items() for ch, sec, v in zip(chs, secs, bpc)])
    fig_name = figure(out, plan, curves)
    best = {c: min((r for r in rows if r[0] == CELLS[c]), key=lambda r: r[9]) for c in plan.s["trunc_cells"]}
    summary = "  truncation, lowest held-out bpc at equal characters: " + ", ".join(
        f"{r[0]} T={r[1]} ({r[9]:.3f})" for r in best.values()) + f" (T from {Ts[0]} to {Ts[-1]})"
    return page_text(plan, rows, curves, fig_name), summary


def table(rows):
    return md_table(["cell", "--seq-length", "updates per character", "µs per character", "ms per update",
                     "backward memory, measured", "formula", "held-out bpc, equal characters",
                     "held-out bpc, equal seconds"],
                    [[r[0], r[1], f"{r[4]:.3f}", f"{r[5]:.1f}", f"{r[6]:.2f}", kib(r[7]), kib(r[8]),
                      f"{r[9]:.3f}", f"{r[10]:.3f}"] for r in rows])


def kib(n):
    return f"{n / 1024:,.0f} KiB"


def gib(n):
    return f"{n / 2 ** 30:.1f} GiB"


def cell_findings(plan, cell, rows, curves):
    """The sentences about one cell, from its rows."""
    mine = [r for r in rows if r[0] == CELLS[cell]]
    lo, hi = mine[0], mine[-1]
    per_char = sorted(mine, key=lambda r: r[5])
    by_chars = sorted(mine, key=lambda r: r[9])
    by_secs = sorted(mine, key=lambda r: r[10])
    ratio = [r[7] / r[8] for r in mine]
    budget = min(curves[(cell, r[1])][1][-1] for r in mine)
    _, _, H, V = plan_sizes(plan, cell)
    full_mem = formula_bytes(cell, FULL_TEXT, H, V)
    sd = seed_sd(plan, cell)
    same_in_5 = "; section 5 gives the same for this report's text" if cell == "rnn" else ""
    return [
        f"- {CELLS[cell]} ({mine[0][2]:,} parameters): a character costs {lo[5]:.1f} µs at --seq-length "
        f"{lo[1]} and {hi[5]:.1f} µs at {hi[1]} (cheapest at {per_char[0][1]}, dearest at "
        f"{per_char[-1][1]}); an update costs {lo[6]:.2f} ms at {lo[1]} and {hi[6]:.2f} ms at {hi[1]}.",
        f"- Its backward pass holds {kib(lo[7])} at --seq-length {lo[1]} and {kib(hi[7])} at {hi[1]}, "
        f"growing with T as the formula {FORMULA[cell]} bytes (H = {H}, V = {V}) "
        f"says: measured over formula from {min(ratio):.2f} to {max(ratio):.2f}.",
        f"- After {plan.s['trunc_chars']:,} characters, held-out bpc is lowest at --seq-length "
        f"{by_chars[0][1]} ({by_chars[0][9]:.3f}; {lead(by_chars, 9, sd)}) and highest at {by_chars[-1][1]} "
        f"({by_chars[-1][9]:.3f}). {order_before(cell, mine, curves)} {last_moves(cell, mine, curves)} "
        f"After the same {budget:.3g} seconds of updates (as long as its fastest run took), lowest at "
        f"{by_secs[0][1]} ({by_secs[0][10]:.3f}; {lead(by_secs, 10, sd)}) and highest at {by_secs[-1][1]} "
        f"({by_secs[-1][10]:.3f}); the runs have then read from {chars_at(budget, mine, curves)}: "
        f"different stretches of the text, and the update times behind it have an error of their own "
        f"(the three repeats of a timing differ by up to {max(r[12] for r in mine):.1%}).",
        f"- Full BPTT of a 1 MB text ({FULL_TEXT:,} characters{same_in_5}) as one "
        f"chunk: {FORMULA[cell]} bytes with T = "
        f"{FULL_TEXT:,} = {gib(full_mem)} for the backward pass, and "
        f"about {FULL_TEXT * hi[5] / 1e6:.0f} seconds per update at the {hi[5]:.1f} µs per character "
        f"of --seq-length {hi[1]}: one update per pass over the text, where --seq-length 25 makes "
        f"{FULL_TEXT // 25:,}.",
    ]


def order_before(cell, mine, curves):
    """In words: the order of the T by held-out bpc at the last evaluation and the one before."""
    last = [r[1] for r in sorted(mine, key=lambda r: r[9])]
    if any(len(curves[(cell, r[1])][2]) < 3 for r in mine):
        return f"From lowest to highest: {', '.join(map(str, last))}."
    chars = curves[(cell, mine[0][1])][0][-2]
    before = [r[1] for r in sorted(mine, key=lambda r: curves[(cell, r[1])][2][-2])]
    same = "the same order" if before == last else "another order"
    return (f"From lowest to highest: {', '.join(map(str, last))}; at the evaluation before, after "
            f"{chars:,} characters: {', '.join(map(str, before))} ({same}).")


def last_moves(cell, mine, curves):
    """In words: how every T's held-out bpc moved between the last two evaluations, and the
    ranking over the mean of the last three."""
    if any(len(curves[(cell, r[1])][2]) < 4 for r in mine):
        return ""
    moves = [curves[(cell, r[1])][2][-1] - curves[(cell, r[1])][2][-2] for r in mine]
    together = ""
    if all(d > 0 for d in moves) or all(d < 0 for d in moves):
        way = "rose" if moves[0] > 0 else "fell"
        lo, hi = min(map(abs, moves)), max(map(abs, moves))
        together = (f"Between those two evaluations every T's held-out bpc {way}, by {lo:.3f} to {hi:.3f}: "
                    f"the stretch of text read in between moved them all. ")
    mean3 = sorted(mine, key=lambda r: np.mean(curves[(cell, r[1])][2][-3:]))
    return (together + f"Over the mean of the last three evaluations, lowest at {mean3[0][1]} and highest at "
            f"{mean3[-1][1]}.")


def lead(ranked, col, sd):
    """In words: how far the first of ranked (rows sorted by column col) is below the second,
    against twice the seed sd (nan: unknown)."""
    margin = ranked[1][col] - ranked[0][col]
    if math.isnan(sd):
        return f"{margin:.3f} below the next, one seed"
    verdict = "not shown to be real" if margin <= 2 * sd else "more than twice the seed sd, one seed"
    return f"{margin:.3f} below the next: {verdict}"


def chars_at(budget, mine, curves):
    """In words: how many characters the runs had read after budget seconds of updates."""
    read = {r[1]: budget / (r[6] / 1e3) * r[1] for r in mine}
    lo, hi = min(read, key=read.get), max(read, key=read.get)
    return f"{read[lo]:,.0f} characters (--seq-length {lo}) to {read[hi]:,.0f} ({hi})"


def seed_sd(plan, cell):
    """The sample sd of the held-out bpc of section 4's seeds of the cell (at --seq-length 25)
    after as many characters as this section's runs see (nan with one seed, or beyond them)."""
    at = plan.s["trunc_chars"] / 25
    vals = [a.value_at(*heldout_columns(plan.path("cells", cell, f"seed-{seed}")), at)
            for seed in plan.s["cell_seeds"]]
    return a.spread(vals)[1] if len(vals) > 1 else math.nan


def closing(plan, rows):
    """The answer to "why truncated BPTT in practice", from the rows of one cell (the last)."""
    cell = plan.s["trunc_cells"][-1]
    mine = {r[1]: r for r in rows if r[0] == CELLS[cell]}
    Ts = sorted(mine)
    ref = 25 if 25 in mine else Ts[len(Ts) // 2]
    _, _, H, V = plan_sizes(plan, cell)
    by_chars = sorted(mine.values(), key=lambda r: r[9])
    best_chars, margin = by_chars[0][1], by_chars[1][9] - by_chars[0][9]
    by_secs = sorted(mine.values(), key=lambda r: r[10])
    best_secs = by_secs[0][1]
    sd = seed_sd(plan, cell)
    if math.isnan(sd):
        shown = "one seed, the seed spread unknown"
    elif margin <= 2 * sd:
        shown = f"within twice the {CELLS[cell]}'s seed sd of section 4, {sd:.3f}: not shown to be real"
    else:
        shown = f"more than twice the {CELLS[cell]}'s seed sd of section 4, {sd:.3f}, though from one seed"
    return (f"Why truncated BPTT in practice, from these numbers ({CELLS[cell]}): the backward pass's memory "
            f"grows in proportion to T, so full BPTT of a {FULL_TEXT:,}-character text would hold "
            f"{gib(formula_bytes(cell, FULL_TEXT, H, V))} for a single update, made once per pass over the "
            f"text and taking about {FULL_TEXT * mine[Ts[-1]][5] / 1e6:.0f} seconds; --seq-length {ref} "
            f"holds {kib(mine[ref][7])} and makes {FULL_TEXT // ref:,} updates in that pass, "
            f"{mine[ref][6]:.2f} ms each. Short chunks are not free either: a character costs "
            f"{mine[Ts[0]][5] / mine[ref][5]:.1f} times as much at --seq-length {Ts[0]} as at {ref}, the "
            f"fixed cost of each update shared by fewer characters. Here the best held-out bpc at equal "
            f"characters is at --seq-length {best_chars}, {margin:.3f} below the next ({shown}), and "
            f"at equal seconds at {best_secs} ({lead(by_secs, 10, sd)}); what "
            f"truncation gives up, the dependencies longer than T, is measured in the long-range section.")


def plan_sizes(plan, cell):
    state = checkpoint(b.truncation_out(plan, cell, plan.s["trunc_seq"][0]))
    return cell, state["hparams"], state["hparams"]["hidden_size"], len(state["chars"])


def page_text(plan, rows, curves, fig_name):
    s = plan.s
    _, hp, H, V = plan_sizes(plan, s["trunc_cells"][0])
    lines = [x for cell in s["trunc_cells"] for x in cell_findings(plan, cell, rows, curves)]
    lo_T, hi_T = min(s["trunc_seq"]), max(s["trunc_seq"])
    return f"""\
The vanilla RNN{' and the LSTM' if 'lstm' in s['trunc_cells'] else ''} on the report's text with
--seq-length {', '.join(map(str, s['trunc_seq']))}: hidden size {H}, Adagrad learning rate
{hp['learning_rate']}, seed {hp['seed']}, the last {hp['val_frac']:.0%} of the text held out; every run sees
the same {s['trunc_chars']:,} characters (iterations = {s['trunc_chars']:,} / T), its held-out bits per
character evaluated every {s['trunc_eval_chars']:,} characters. The time per update is measured in this
process (the fastest of three repeats of lossFun and the Adagrad step over about {min(TIMING_CHARS,
s['trunc_chars']):,} characters, in CPU seconds of one core); the seconds in the right-hand
figure are updates times that time, without the trainer's logging and evaluation. The memory is the
peak that tracemalloc sees during one lossFun call: the arrays the chunk's forward pass keeps for
the backward pass and those the backward pass makes. One seed per T: the spread between seeds is
not measured here. And at equal characters a shorter T also makes more updates ({hi_T // lo_T}
times as many at --seq-length {lo_T} as at {hi_T}): a difference between two T at equal
characters is not the truncation's alone. Section 4's seeds of the same cells, at --seq-length 25,
after the same {s['trunc_chars']:,} characters, have held-out sds of
{', '.join(f"{seed_sd(plan, c):.3f} ({CELLS[c]})" for c in s['trunc_cells'])}; a difference between two T
smaller than twice that is not shown to be real.

![Held-out bpc against characters and seconds]({fig_name})

{table(rows)}

{chr(10).join(lines)}

{closing(plan, rows)} Data:
[truncation-costs.csv](truncation-costs.csv), [truncation.csv](truncation.csv).

{reproduce(plan, "truncation")}"""
