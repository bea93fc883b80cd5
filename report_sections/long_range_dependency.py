"""Long-range dependency: up to how many steps can each cell learn to carry one character,
and does that limit move with the truncation length of backpropagation (--seq-length)?

Runs: long-range/<cell>/L-<L>/seq-<T>/seed-N (bptt_runs.py): the vanilla RNN, LSTM and GRU,
each on the generated text of each L (long_range_text.py: a key, L - 3 random letters
between two spaces, the key again), truncated at the two lengths of recall_seq, each seed of
recall_seeds, recall_chars characters seen by every run.
And long-range/more/<cell>/seq-<T>/seed-N (recall_more, when the scale has it): each cell at
one L, with recall_more's truncations (one shorter than L, one longer), trained on several
times as many characters: is a cell that fails at that L short of training, or of a gradient
that joins key and recall?
Writes: long-range.png/.csv (the loss on the recall character against L, per run),
long-range-limits.csv (per cell and truncation: the longest L learned, the first L not),
long-range-more.csv (the longer training's runs, as long-range.csv).
"""
import numpy as np

from charrnn.model import CELLS
from report_sections import bptt_runs as b
from report_sections import long_range_text as lr
from report_sections.page import MARKERS, STYLES, md_table, plt
from report_sections.runs import checkpoint


NAME = "long-range"
HEADING = "Long-range dependency: what each cell can carry, and what truncation allows"
CONTENTS = "Long-range dependency"

ORDER = ("rnn", "lstm", "gru")
TEST_SEED = 2  # of the lines the recall is measured on (the training texts have seed 1)
STREAMS, SCORED = 16, 40  # the test text: 16 pieces of warm-up lines + 40 lines; 640 scored
LEARNED = 1.0  # a run has learned the dependency when its recall loss is below this (half of 2 bits)
COLUMNS = ["cell", "L", "seq_length", "seed", "recall bits", "standard error", "parameters",
           "iterations", "characters seen", "share of recalls with their key in the chunk"]


def key_in_chunk(L, T):
    """The share of recall characters whose key is an input of the same chunk of T characters
    (the only ones whose loss sends a gradient back to the key): (T - L + 1) / T, at least 0."""
    return max(0, T - L + 1) / T


def test_text(L):
    """The fresh lines every run of L is measured on."""
    return lr.make_text(L, STREAMS * (lr.warmup_lines(L) + SCORED) * lr.line_length(L), TEST_SEED)


def run_row(cell, L, T, seed, run, test):
    """A CSV row (COLUMNS) of the run in folder run: its mean recall loss (bits) on test."""
    state = checkpoint(run)
    bits = lr.recall_bits(state, test, L, STREAMS).ravel()
    n_params = sum(p.size for p in state["params"].values())
    return [CELLS[cell], L, T, seed, float(bits.mean()), float(bits.std() / np.sqrt(bits.size)),
            n_params, state["n"], state["n"] * T, key_in_chunk(L, T)]


def measure(plan):
    """The CSV rows: every run's mean recall loss (bits) on fresh lines."""
    s, rows = plan.s, []
    for L in s["recall_L"]:
        test = test_text(L)
        rows += [run_row(cell, L, T, seed, b.long_range_out(plan, cell, L, T, seed), test)
                 for cell in ORDER for T in s["recall_seq"] for seed in s["recall_seeds"]]
    return rows


def measure_more(plan):
    """The rows of the longer training (recall_more), as measure's; [] when there is none."""
    more = plan.s["recall_more"]
    if not more:
        return []
    test = test_text(more["L"])
    return [run_row(cell, more["L"], T, seed, b.more_out(plan, cell, T, seed), test)
            for cell in ORDER for T in more["seq"] for seed in more["seeds"]]


def limits(plan, rows):
    """Per cell and truncation: (cell, T, longest L learned by every seed from L = 5 up, first L
    not learned by some seed, the worst seed's bits there)."""
    out = []
    for cell in ORDER:
        for T in plan.s["recall_seq"]:
            worst = {}
            for r in rows:
                if r[0] == CELLS[cell] and r[2] == T:
                    worst[r[1]] = max(worst.get(r[1], 0.0), r[4])
            longest, first, there = 0, None, float("nan")
            for L in sorted(worst):
                if worst[L] >= LEARNED:
                    first, there = L, worst[L]
                    break
                longest = L
            out.append([CELLS[cell], T, longest, first, there])  # first: None when every L was learned
    return out


def figure(out, plan, rows):
    """Recall bits against L, one line per cell and truncation (the mean of the seeds), every
    seed a marker."""
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for i, cell in enumerate(ORDER):
        for j, T in enumerate(plan.s["recall_seq"]):
            mine = [r for r in rows if r[0] == CELLS[cell] and r[2] == T]
            Ls = sorted({r[1] for r in mine})
            mean = [np.mean([r[4] for r in mine if r[1] == L]) for L in Ls]
            style = dict(STYLES[i], linestyle="-" if j else "--", alpha=1.0 if j else 0.7)
            ax.plot(Ls, mean, label=f"{CELLS[cell]}, --seq-length {T}", marker=MARKERS[i],
                    fillstyle="full" if j else "none", **style)
            ax.scatter([r[1] for r in mine], [r[4] for r in mine], s=12, color=STYLES[i]["color"],
                       alpha=0.5, marker=MARKERS[i])
    no_memory = np.log2(len(lr.KEYS))
    ax.axhline(no_memory, color="black", linewidth=0.8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.text(plan.s["recall_L"][0], no_memory + 0.05,
            f"no memory: log2({len(lr.KEYS)}) = {no_memory:.0f} bits", fontsize=8)
    ax.text(plan.s["recall_L"][0], 0.05, "perfect memory: 0 bits", fontsize=8)
    ax.set_xscale("log")
    ax.set_xticks(plan.s["recall_L"], [str(L) for L in plan.s["recall_L"]])
    ax.minorticks_off()
    ax.set(xlabel="L: characters from the key to its recall",
           ylabel="loss on the recall character (bits)",
           title="Recall of a key L characters back (lines: mean of the seeds; dots: each seed)")
    ax.set_ylim(-0.15, max(no_memory + 0.5, max(r[4] for r in rows) + 0.1))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return out.figure(fig, "long-range")


def section(plan, out):
    """(page text, summary line) of the long-range dependency experiment."""
    rows = measure(plan)
    out.csv("long-range.csv", COLUMNS, rows)
    lim = limits(plan, rows)
    out.csv("long-range-limits.csv", ["cell", "seq_length", "longest L learned", "first L not learned",
                                      "recall bits there (worst seed)"], lim)
    fig_name = figure(out, plan, rows)
    more = measure_more(plan)
    if more:
        out.csv("long-range-more.csv", COLUMNS, more)
    summary = f"  longest L learned (recall < {LEARNED} bits): " + ", ".join(
        f"{r[0]} T={r[1]}: {r[2]}" for r in lim)
    text = page_text(plan, rows, lim, fig_name) + more_text(plan, rows, more) + in_short(lim, rows + more)
    return text, summary


def spread_table(plan, rows):
    """Markdown: per cell and truncation, the mean recall bits at each L, with the seeds' range."""
    Ls = plan.s["recall_L"]
    md = []
    for cell in ORDER:
        for T in plan.s["recall_seq"]:
            cells = []
            for L in Ls:
                v = [r[4] for r in rows if r[0] == CELLS[cell] and r[2] == T and r[1] == L]
                cells.append(mean_range(v) if len(v) > 1 else f"{v[0]:.2f}")
            md.append([CELLS[cell], T] + cells)
    return md_table(["cell", "--seq-length"] + [f"L = {L}" for L in Ls], md)


def reach(longest):
    return f"up to L = {longest}" if longest else "at no L"


def findings(plan, rows, lim):
    """The conclusions, each from the numbers of rows (the runs) and lim (the limits)."""
    s = plan.s
    short, long_ = s["recall_seq"]
    by = {(r[0], r[1]): r for r in lim}
    lines = []
    for cell in ORDER:
        a, z = by[(CELLS[cell], short)], by[(CELLS[cell], long_)]
        moved = ("the same with both" if a[2] == z[2] else
                 f"{'longer' if z[2] > a[2] else 'shorter'} with --seq-length {long_}, which also makes "
                 f"{long_ // short} times fewer updates")
        lines.append(f"- The {CELLS[cell]} learns the dependency (under {LEARNED} bits, every seed) "
                     f"{reach(a[2])} with --seq-length {short} and {reach(z[2])} with "
                     f"--seq-length {long_}: {moved}"
                     + (f"; at L = {z[3]} with --seq-length {long_} its worst seed is at {z[4]:.2f} bits."
                        if z[3] is not None else "."))
    beyond = [r for r in rows if r[2] == short and r[1] > short]
    if beyond:
        got = [r for r in beyond if r[4] < LEARNED]
        lines.append(f"- With --seq-length {short}, no recall character at L > {short} has its key in "
                     f"its chunk (share 0 in long-range.csv): no gradient joins them. Those runs' recall "
                     f"losses range from {min(r[4] for r in beyond):.2f} to {max(r[4] for r in beyond):.2f} "
                     f"bits; " + (f"{len(got)} of them are under {LEARNED} bits: the carried state holds the "
                                  f"key without a gradient through it, against the textbook answer."
                                  if got else "none is under the learned mark."))
    lines += partial_and_updates(plan, rows)
    stuck = [r for r in lim if r[1] == long_ and r[0] != CELLS["rnn"] and r[3] is not None and r[3] < long_]
    if stuck:
        L, f = stuck[0][3], 1 / (1 + np.exp(-1))
        lines.append(f"- Where a gated cell fails at L = {L} with --seq-length {long_}, truncation does not "
                     f"explain it ({key_in_chunk(L, long_):.0%} of its recalls have their key in the "
                     f"chunk). A possible reason, not tested here: untrained, the LSTM keeps "
                     f"f = sigmoid(1) = {f:.2f} of its cell per step (its forget-gate bias starts at 1) and "
                     f"the GRU u = sigmoid(0) = 0.5 of "
                     f"its state, so after L = {L} steps {f ** L:.1e} (LSTM) and {0.5 ** L:.1e} (GRU) of the "
                     f"key is left, and as little of the gradient back to it: the gates must learn to hold "
                     f"before the key can be learned, and --seq-length {long_} gives them "
                     f"{s['recall_chars'] // long_:,} updates against {s['recall_chars'] // short:,}. "
                     f"Against the short textbook answer, a gated cell with a truncation longer than L "
                     f"did not suffice at L = {L} with {s['recall_chars']:,} characters "
                     f"({s['recall_chars'] // long_:,} updates)"
                     + (f" (the longer training below tests L = {s['recall_more']['L']} only)."
                        if s["recall_more"] else "."))
    split = sorted({(r[0], r[1], r[2]) for r in rows
                    if any(q[4] < LEARNED for q in rows if q[:3] == r[:3])
                    and any(q[4] >= LEARNED for q in rows if q[:3] == r[:3])})
    if split:
        lines.append("- Seeds disagree (one under the mark, one not) at: "
                     + "; ".join(f"{c} L = {L}, --seq-length {T}" for c, L, T in split) + ".")
    return "\n".join(lines)


def mean_bits(rows, cell, L, T):
    """(mean, lowest, highest) recall bits of a cell's seeds at L and T."""
    v = [r[4] for r in rows if r[0] == CELLS[cell] and r[1] == L and r[2] == T]
    return float(np.mean(v)), min(v), max(v)


def runs_text(rows):
    """Runs in words: cell, L, seed and recall bits with their standard error."""
    return "; ".join(f"{r[0]} L = {r[1]} seed {r[3]} ({r[4]:.3f} ± {r[5]:.3f})" for r in rows)


def single_runs(rows, short, no_memory):
    """Sentences: the single runs beyond the shorter truncation that sit more than 4 standard
    errors below the no-memory level (partial recall) or above it (sure of a wrong key)."""
    beyond = [r for r in rows if r[2] == short and r[1] > short]
    below = [r for r in beyond if r[4] < no_memory - 4 * r[5]]
    above = [r for r in beyond if r[4] > no_memory + 4 * r[5]]
    out = []
    if below:
        out.append(f"- Single runs with --seq-length {short} at L > {short} more than 4 standard errors "
                   f"below the {no_memory:.0f} bits of no memory: {runs_text(below)}.")
    if above:
        out.append(f"- And above it, worse than no memory (some confidence in wrong keys): "
                   f"{runs_text(above)}; a mean in the table that includes such a seed is pulled up by it.")
    return out


def max_se(rows, cell, L, Ts):
    """The largest standard error of the recall loss among the cell's runs at L and the Ts."""
    return max(r[5] for r in rows if r[0] == CELLS[cell] and r[1] == L and r[2] in Ts)


def partial_and_updates(plan, rows):
    """Sentences: partial recall beyond the truncation length, and which truncation recalls
    better at equal characters (only where the seeds' ranges do not overlap)."""
    s, lines = plan.s, []
    short, long_ = s["recall_seq"]
    no_memory = np.log2(len(lr.KEYS))
    partial = [(c, L) for c in ORDER for L in s["recall_L"]
               if L > short and mean_bits(rows, c, L, short)[2] < no_memory - 0.25]
    if partial:
        reached = ", ".join(f"the {CELLS[c]} at L = {L} reaches {mean_bits(rows, c, L, short)[0]:.2f} bits"
                            for c, L in partial)
        lines.append(f"- Partial recall with no gradient through the key: with --seq-length {short}, "
                     f"{reached}, below the {no_memory:.0f} bits of no memory (every seed), though no chunk "
                     f"holds both key and recall. This is against the short textbook answer. A possible "
                     f"reason, not tested here: the weights that the gradient teaches to keep what the "
                     f"state holds over the last {short - 1} steps act at every step, so they keep the key "
                     f"over the steps no gradient reaches too.")
    lines += single_runs(rows, short, no_memory)
    wins, small = {short: [], long_: []}, {short: 0, long_: 0}
    for c in ORDER:
        for L in s["recall_L"]:
            a, z = mean_bits(rows, c, L, short), mean_bits(rows, c, L, long_)
            se = max_se(rows, c, L, (short, long_))
            if (a[2] < z[1] or z[2] < a[1]) and abs(a[0] - z[0]) > 2 * se:  # ranges apart, beyond 2 SE
                side = short if a[0] < z[0] else long_
                if abs(a[0] - z[0]) > 0.1:
                    wins[side].append(f"{CELLS[c]} L = {L}")
                else:
                    small[side] += 1
    n = len(ORDER) * len(s["recall_L"])
    one_seed = (" (one seed: every difference counts, untested against the spread)."
                if len(s["recall_seeds"]) == 1 else ".")
    lines.append(f"- At equal characters, --seq-length {short} ({s['recall_chars'] // short:,} updates) "
                 f"recalls better (by over 0.1 bits, the seeds' ranges apart, beyond twice the standard "
                 f"error) at {len(wins[short])} of "
                 f"{n} cell and L pairs "
                 f"({', '.join(wins[short]) or 'none'}); --seq-length {long_} "
                 f"({s['recall_chars'] // long_:,} updates) at {len(wins[long_])} "
                 f"({', '.join(wins[long_]) or 'none'}); elsewhere the difference is under 0.1 bits with the "
                 f"seeds' ranges apart and beyond twice the runs' standard error (--seq-length {short} lower "
                 f"at {small[short]}, {long_} at {small[long_]}; with two seeds, ranges apart is weak "
                 f"evidence) or within the seeds' spread or the standard error" + one_seed)
    return lines


def page_text(plan, rows, lim, fig_name):
    s = plan.s
    params = {r[0]: r[6] for r in rows}
    short, long_ = s["recall_seq"]
    seeds = s["recall_seeds"]
    seed_note = ("one seed: the spread between seeds is not measured" if len(seeds) == 1
                 else f"{len(seeds)} seeds ({', '.join(map(str, seeds))}); the table gives their range")
    lim_md = md_table(["cell", "--seq-length", "longest L learned", "first L not learned",
                       "worst seed there (bits)"],
                      [[r[0], r[1], r[2] or "none", "none beyond" if r[3] is None else r[3],
                        "" if r[3] is None else f"{r[4]:.2f}"]
                       for r in lim])
    return f"""\
Each line of a generated text is a key ({', '.join(lr.KEYS)}), a space, L - 3 random lowercase
letters, a space and the same key: the second key, the recall character, comes L characters
after the first, and nothing between tells which it is (`python tools/make_long_range_text.py
--length L --seed 1`). The measure is the loss on the recall character alone, in bits, on
{STREAMS * SCORED} fresh lines (seed {TEST_SEED}): {STREAMS} streams, each starting from the state the
run carried when it stopped (as the held-out loss starts), each first reading at least
{lr.WARMUP_CHARS:,} characters (whole lines) unscored, then {SCORED} lines scored. The limits:
{np.log2(len(lr.KEYS)):.0f} bits (log2 of {len(lr.KEYS)} keys) for a model
with no memory, 0 for perfect memory, more than {np.log2(len(lr.KEYS)):.0f} for a model sure of a wrong key.
A run has learned the dependency when it is under {LEARNED}
bits. Every run: hidden size {s['recall_hidden']} ({', '.join(f'{c} {n:,}' for c, n in params.items())}
parameters), Adagrad learning rate {s['recall_lr']}, {s['recall_chars']:,} characters seen
({s['recall_chars'] // short:,} iterations at --seq-length {short}, {s['recall_chars'] // long_:,} at
{long_}); {seed_note}. In this grid the truncation length and the number of updates change together
(--seq-length {long_} makes {long_ // short} times fewer updates at equal characters): a difference between
the two truncations is not the truncation's alone. With --seq-length T, a recall character sends a
gradient to its key only when both are in one chunk: a share (T - L + 1) / T of them, none for
L > T. The short textbook answer, which the lines below test: truncated BPTT cannot learn a
dependency longer than its truncation T, and a gated cell learns, with T longer than L, one that
a vanilla RNN cannot.

![Recall loss against L]({fig_name})

Mean recall loss in bits (range over the seeds):

{spread_table(plan, rows)}

{lim_md}

{findings(plan, rows, lim)}

These limits hold for {s['recall_chars']:,} characters of training: a run that has not learned an L
might with more. Data: [long-range.csv](long-range.csv), [long-range-limits.csv](long-range-limits.csv).

Reproduce: `{plan.args.report_cmd}` (the runs: reused when finished), or by hand, for each L, cell,
T and seed:

    python tools/make_long_range_text.py --length L --chars $(({s['recall_chars'] + 2 * long_} + L + 2)) \\
        --seed 1 > text-L.txt
    python min_char_rnn.py text-L.txt --cell CELL --hidden-size {s['recall_hidden']} --seq-length T \\
        --seed SEED --learning-rate {s['recall_lr']} --sample-every 0 --iters $(({s['recall_chars']} / T))
"""


def more_verdict(cell, learned, spec, best):
    """In words: what the longer training shows for one cell. learned: {T: every seed under
    LEARNED}; spec: recall_more; best: {T: its best seed's bits}."""
    short, long_ = min(spec["seq"]), max(spec["seq"])
    share = f"{key_in_chunk(spec['L'], long_):.0%}"
    if learned[long_] and not learned[short]:
        return (f"the {CELLS[cell]} gets under {LEARNED} bit at L = {spec['L']} only with --seq-length "
                f"{long_} (the chunk holds key and recall for {share} of the recalls); with {short} "
                f"(none) its best seed stays at {best[short]:.2f} bits, though it makes {long_ / short:g} "
                f"times the updates")
    if learned[long_] and learned[short]:
        return (f"the {CELLS[cell]} learns L = {spec['L']} with both: with --seq-length {short} without a "
                f"gradient joining key and recall")
    if learned[short]:
        return f"the {CELLS[cell]} learns L = {spec['L']} with --seq-length {short} only"
    return (f"the {CELLS[cell]} learns it with neither truncation (best seed {best[short]:.2f} bits with "
            f"--seq-length {short}, {best[long_]:.2f} with {long_}, after {spec['chars'] // long_:,} updates "
            f"with the key in the chunk for {share} of the recalls" + (
                "; the possible reason above, too few updates for the gates to learn to hold, is not "
                "enough to explain that)" if cell != "rnn" else ")"))


def mean_range(v):
    """A few seeds' values in words: their mean, and their range in brackets."""
    return f"{np.mean(v):.2f} ({min(v):.2f} to {max(v):.2f})"


def short_change(plan, rows, more):
    """In words: what more characters changed at the shorter truncation, where no gradient joins
    key and recall (the runs above against the longer training), per cell."""
    spec = plan.s["recall_more"]
    L, T = spec["L"], min(spec["seq"])
    parts = []
    for cell in ORDER:
        before = [r[4] for r in rows if r[0] == CELLS[cell] and r[1] == L and r[2] == T]
        after = [r[4] for r in more if r[0] == CELLS[cell] and r[2] == T]
        if not before or not after:
            continue
        if min(before + after) >= np.log2(len(lr.KEYS)) - 0.05:
            how = "both at the no-memory level"
        elif max(after) < min(before):
            how = "lower, the seeds' ranges apart"
        elif min(after) > max(before):
            how = "higher, the seeds' ranges apart"
        else:
            how = "the seeds' ranges overlap"
        parts.append(f"the {CELLS[cell]} from {mean_range(before)} to {mean_range(after)} ({how})")
    if not parts or key_in_chunk(L, T):
        return ""
    times = spec["chars"] // plan.s["recall_chars"]
    return (f"With --seq-length {T}, where no chunk holds both key and recall, {times} times the "
            f"characters took the recall loss of " + "; ".join(parts) + ".")


def more_text(plan, rows, more):
    """The page's part on the longer training (empty when the scale has none)."""
    spec = plan.s["recall_more"]
    if not more:
        return ""
    L, chars = spec["L"], spec["chars"]
    md, verdicts = [], []
    for cell in ORDER:
        learned, best = {}, {}
        for T in spec["seq"]:
            v = [r[4] for r in more if r[0] == CELLS[cell] and r[2] == T]
            learned[T], best[T] = max(v) < LEARNED, min(v)
            grid = [r[4] for r in rows if r[0] == CELLS[cell] and r[1] == L and r[2] == T]
            md.append([CELLS[cell], T, f"{chars // T:,}", f"{key_in_chunk(L, T):.0%}", mean_range(v),
                       f"{np.mean(grid):.2f}" if grid else "not run"])
        verdicts.append(more_verdict(cell, learned, spec, best))
    seeds, truncs = ", ".join(map(str, spec["seeds"])), spec["seq"]
    one_seed = " One seed each: the spread between seeds is not measured." if len(spec["seeds"]) == 1 else ""
    return f"""
**Longer training at L = {L}.** Is a cell that fails at L = {L} short of training, or of a gradient
that joins key and recall? Each cell again, at L = {L}, with --seq-length {" and ".join(map(str, truncs))},
{chars:,} characters seen, {chars // plan.s["recall_chars"]} times as many as above (seeds {seeds}; the same
hidden size and learning rate), on a longer text made the same way (the same generator and seed; its
keys and filler are another draw). Against the runs above with the same --seq-length, the characters
seen and that draw change; the two truncations here read the same text, so they differ in the
truncation and, with it, in the number of updates
([long-range-more.csv](long-range-more.csv)):

{md_table(["cell", "--seq-length", "updates", "recalls with key in chunk",
           f"recall bits after {chars:,} characters, mean (range)",
           f"the same after {plan.s['recall_chars']:,} (above)"], md)}

With {chars:,} characters: {"; ".join(verdicts)}.{one_seed}
{short_change(plan, rows, more)}
These are {len(spec['seeds'])} seed{'s' if len(spec['seeds']) > 1 else ''} per cell at one L: whether still
more characters would let a cell learn is not measured.
"""


def best_setting(rows, cell, L0):
    """(mean, lowest, highest recall bits, L, T, characters seen) of the cell's setting (L >= L0,
    T and the characters seen) with the lowest mean recall loss over its seeds."""
    groups = {}
    for r in rows:
        if r[0] == CELLS[cell] and r[1] >= L0:
            groups.setdefault((r[1], r[2], r[8]), []).append(r[4])
    (L, T, n), v = min(groups.items(), key=lambda kv: np.mean(kv[1]))
    return float(np.mean(v)), min(v), max(v), L, T, n


def in_short(lim, rows):
    """The section's conclusion: each cell's best recall, over every run of the section, at the
    lengths where the vanilla RNN first failed with the shorter truncation, and beyond."""
    van = next(r for r in lim if r[0] == CELLS["rnn"])  # the vanilla RNN at the shorter truncation
    if van[3] is None:
        return ""
    L0, no_memory = van[3], np.log2(len(lr.KEYS))
    best = {cell: best_setting(rows, cell, L0) for cell in ORDER}
    said = {c: f"the {CELLS[c]}, {m:.2f} ({lo:.2f} to {hi:.2f}) at L = {L}, --seq-length {T}, {n:,} "
               f"characters" for c, (m, lo, hi, L, T, n) in best.items()}
    better = [f"the {CELLS[c]}" for c in ("lstm", "gru") if best[c][2] < best["rnn"][1]]  # ranges apart
    who = (" and ".join(better) or "no gated cell").capitalize().replace("lstm", "LSTM").replace("gru", "GRU")
    verb = "recalls" if len(better) < 2 else "recall"
    learned = [f"the {CELLS[c]} (L = {best[c][3]}, --seq-length {best[c][4]}, {best[c][5]:,} characters)"
               for c in ORDER if best[c][2] < LEARNED]
    return f"""
**In short.** At L = {L0} and beyond, where the vanilla RNN first failed with --seq-length {van[1]}, each
cell's best setting of this section (the L, truncation and training with the lowest mean recall loss
over the seeds; the seeds' range in brackets), against {no_memory:.0f} bits with no memory: {said["rnn"]};
{said["lstm"]}; {said["gru"]}. {who} {verb} more of the key there than the vanilla RNN (the seeds'
ranges apart). By the {LEARNED}-bit mark, every seed
learned an L of {L0} or more only for {", ".join(learned) or "no cell"}.{borderline(rows)}
"""


def borderline(rows):
    """In words: the runs whose recall loss is within two standard errors of the learned mark."""
    near = [r for r in rows if abs(r[4] - LEARNED) <= 2 * r[5]]
    if not near:
        return ""
    return (" Within two standard errors of the mark, so their verdicts could go either way: "
            + "; ".join(f"{r[0]} L = {r[1]}, --seq-length {r[2]}, seed {r[3]} ({r[4]:.3f} ± {r[5]:.3f})"
                        for r in near) + ".")
