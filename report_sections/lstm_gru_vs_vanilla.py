"""Vanilla RNN vs LSTM vs GRU: with the same optimizer, learning rate, data and seeds, which
cell predicts text it has never seen best, at equal iterations and at equal training time,
and is the difference larger than the spread between seeds? A vanilla RNN with about the
LSTM's parameter count tells size apart from the cell's design.

Runs: cells/<run>/seed-N for run in rnn, rnn-big (hidden size plan.big_hidden), lstm, gru and
every seed of cell_seeds (cell_iters iterations each, the last tenth of the text held out,
evaluated every eval_every iterations), and their outcomes in logs/cells-<run>-seed-N.json
(the trainer's own iterations per second, evaluations included). The time of one update of each
run (lossFun and Adagrad) is measured in this process (runs.update_timings): the equal-time
comparison rests on it, not on how busy the machine was while the runs trained.
Writes: cells-heldout.png/.csv (held-out bits per character against iteration and against
seconds), cells.csv (one row per run), cells-summary.csv (mean and sd per cell).
"""
import re

import numpy as np

import analysis as a
import min_char_rnn as m
from charrnn.logs import bits_per_char
from charrnn.model import cell_module
from charrnn.text import build_vocab, heldout_blocks, split_heldout
from report_sections.page import MARKERS, STYLES, md_table, plt, reproduce
from report_sections.plan import CELL_RUNS
from report_sections.runs import TIMING_CHARS, checkpoint, heldout_columns, update_timings
from report_sections.training import training_speed


NAME = "cells"
HEADING = "Vanilla RNN vs LSTM vs GRU"
CONTENTS = "Vanilla RNN vs LSTM vs GRU"

COLUMNS = ["cell", "seed", "hidden size", "parameters", "final held-out bpc", "lowest held-out bpc",
           "training-text bpc", "held-out minus training-text bpc", "iterations per second",
           "milliseconds per update (measured)", "seconds of updates", "held-out bpc at equal seconds",
           "change at equal seconds if the update time were 10% off",
           "slowest of the three timing repeats over the fastest, minus 1"]
SUMMARY = ["cell", "seeds", "parameters", "mean held-out bpc", "sd held-out bpc",
           "mean gap held-out minus training", "mean held-out bpc at equal seconds",
           "sd held-out bpc at equal seconds", "mean iterations per second (trainer's own)",
           "milliseconds per update (measured)",
           "mean change at equal seconds if the update time were 10% off"]
SPAN = 0.4  # an equal-time order counts only if it holds from (1 - SPAN) times the budget to all of it,
BUDGETS = 9  # ... at this many budgets, evenly spaced
TIMING_ERROR = 0.1  # how far off a measured update time may be (repeats differ by a few percent)


def label(plan, run):
    return {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU",
            "rnn-big": f"vanilla RNN (hidden {plan.big_hidden})"}[run]


def section(plan, out):
    """(page text, summary line) of the comparison of the cells."""
    runs = [(run, seed) for run in CELL_RUNS for seed in plan.s["cell_seeds"]]
    curves = {k: heldout_columns(plan.path("cells", k[0], f"seed-{k[1]}")) for k in runs}
    repeats = update_seconds(plan)
    per_update = {run: min(v) for run, v in repeats.items()}  # the fastest repeat
    speeds = {k: (training_speed(plan.log_path(f"cells/{k[0]}/seed-{k[1]}", "json"))[0], per_update[k[0]])
              for k in runs}
    equal_s = min(per_update.values()) * plan.s["cell_iters"]  # the fastest run's seconds of updates
    train_text = training_slice(plan)
    table = [cell_row(plan, k, curves[k], speeds[k], equal_s, train_text) + [repeat_spread(repeats[k[0]])]
             for k in runs]
    summary_rows = summarise(plan, table)
    over_time = mean_over_budgets(plan, curves, per_update, equal_s)
    hp = checkpoint(plan.path("cells", "lstm", f"seed-{plan.s['cell_seeds'][0]}"))["hparams"]
    fig_name = heldout_figure(out, plan, curves, speeds, equal_s)
    its = sorted(set().union(*(set(c[0].tolist()) for c in curves.values())))
    cols = {k: dict(zip(c[0].tolist(), c[1].tolist())) for k, c in curves.items()}
    out.csv("cells-heldout.csv", ["iteration"] + [f"{r}-seed-{sd}" for r, sd in curves],
            [[i] + [cols[k].get(i, float("nan")) for k in curves] for i in its])
    out.csv("cells.csv", COLUMNS, table)
    out.csv("cells-summary.csv", SUMMARY, summary_rows)
    summary = "  held-out bits per character (mean of seeds): " + ", ".join(
        f"{r[0]} {r[3]:.3f}" for r in summary_rows)
    return page_text(plan, hp, fig_name, table, summary_rows, equal_s, over_time), summary


def update_seconds(plan):
    """Per run of CELL_RUNS: the seconds of one update (lossFun and Adagrad, one core), measured
    here on its first seed's weights and the training text."""
    _, data = build_vocab(plan.text)
    train_part, _ = split_heldout(data, 0.1)
    out = {}
    for run in CELL_RUNS:
        state = checkpoint(plan.path("cells", run, f"seed-{plan.s['cell_seeds'][0]}"))
        params = {k: v.copy() for k, v in state["params"].items()}
        out[run] = update_timings(cell_module(state["hparams"]["cell"]), params, train_part,
                                  state["hparams"]["seq_length"], TIMING_CHARS)
    return out


def training_slice(plan):
    """As many characters of the training part as the held-out part holds (its end, the text
    just before the held-out part), read as the trainer reads the held-out text."""
    _, data = build_vocab(plan.text)
    train_part, val = split_heldout(data, 0.1)
    return train_part[-len(val):]


def cell_row(plan, key, curve, speed, equal_s, train_text):
    """A row of cells.csv: the run's size, held-out and training-text bpc, speed, and its
    held-out bpc after equal_s seconds of training (interpolated between evaluations)."""
    run, seed = key
    state = checkpoint(plan.path("cells", run, f"seed-{seed}"))
    it, bpc = curve
    n_params = sum(p.size for p in state["params"].values())
    nats = m.heldout_loss(heldout_blocks(train_text), state["params"], cell_module(state["hparams"]["cell"]),
                          state["hprev"])  # each stream from the carried state, as the trainer reads
    train_bpc = bits_per_char(nats, len(train_text) - 1)
    rate, spu = speed
    at_equal = a.value_at(it * spu, bpc, equal_s)
    return [label(plan, run), seed, state["hparams"]["hidden_size"], n_params, float(bpc[-1]),
            float(bpc.min()), train_bpc, float(bpc[-1]) - train_bpc, rate, 1e3 * spu, it[-1] * spu,
            at_equal, timing_band(it * spu, bpc, equal_s)]


def mean_over_budgets(plan, curves, per_update, equal_s):
    """(the budgets from (1 - SPAN) equal_s to equal_s, {cell label: its seeds' mean held-out
    bpc after each budget of seconds of updates})."""
    times = equal_s * np.linspace(1 - SPAN, 1, BUDGETS)
    means = {}
    for run in CELL_RUNS:
        seeds = [curves[(run, sd)] for sd in plan.s["cell_seeds"]]
        means[label(plan, run)] = np.mean([[a.value_at(it * per_update[run], bpc, t) for t in times]
                                           for it, bpc in seeds], axis=0)
    return times, means


def repeat_spread(times):
    """How far the slowest of a timing's repeats is above the fastest, as a fraction."""
    return max(times) / min(times) - 1


def timing_band(secs, bpc, t):
    """How far the held-out bpc read at t seconds moves if t is TIMING_ERROR off (either way,
    where the curve reaches): the uncertainty the timing gives an equal-time reading."""
    at_t = a.value_at(secs, bpc, t)
    moved = [abs(a.value_at(secs, bpc, t * k) - at_t) for k in (1 - TIMING_ERROR, 1 + TIMING_ERROR)]
    return max((m for m in moved if m == m), default=0.0)


def summarise(plan, table):
    """Rows of cells-summary.csv: per cell, mean and sd over its seeds."""
    rows = []
    for run in CELL_RUNS:
        mine = [r for r in table if r[0] == label(plan, run)]
        held, _, _, _ = a.spread([r[4] for r in mine])
        sd = a.spread([r[4] for r in mine])[1]
        eq_m, eq_sd, _, _ = a.spread([r[11] for r in mine])
        rows.append([label(plan, run), len(mine), mine[0][3], held, sd,
                     a.spread([r[7] for r in mine])[0], eq_m, eq_sd,
                     a.spread([r[8] for r in mine])[0], mine[0][9], a.spread([r[12] for r in mine])[0]])
    return rows


def heldout_figure(out, plan, curves, speeds, equal_s):
    """Held-out bits per character against iteration (left) and seconds (right), a line per run."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for (run, seed), (it, bpc) in curves.items():
        i = CELL_RUNS.index(run)
        style = dict(marker=MARKERS[i], markersize=2.5, linewidth=1, **STYLES[i])
        lab = label(plan, run) if seed == plan.s["cell_seeds"][0] else None
        axes[0].plot(it, bpc, label=lab, **style)
        axes[1].plot(it * speeds[(run, seed)][1], bpc, **style)
    axes[1].axvline(equal_s, color="0.3", linewidth=0.8)
    axes[0].set(xlabel="iteration", ylabel="held-out bits per character",
                title=f"equal iterations ({len(plan.s['cell_seeds'])} seeds per cell)")
    axes[1].set(xlabel="seconds of updates (iterations x measured seconds per update)",
                title="equal training time (line: the fastest run's end)")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    if all(len(b) > 1 for _, b in curves.values()):
        top = max(b[1:].max() for _, b in curves.values())
        axes[0].set_ylim(top=top * 1.05 + 0.05)  # the untrained point (log2 of the vocabulary) off the top
    return out.figure(fig, "cells-heldout")


def heldout_name(plan):
    """In words: which text is held out (its characters, and the titles of the works in it,
    found as a line followed by a blank line and a line that starts with 'by ')."""
    n_val = int(len(plan.text) * 0.1)
    val = plan.text[len(plan.text) - n_val:]
    titles = re.findall(r"\n([^\n]{3,80})\n\nby [^\n]+", val)
    start = val[:60].replace("\n", "\\n").replace("`", "'")
    named = (f"it holds the work titled {', '.join(f'**{t.strip()}**' for t in titles)} (from its title "
             f"line on), after the last {val.find(titles[0]):,} characters of the work before it"
             if titles else "no title line was found in it")
    return (f"the last {n_val:,} characters of `{plan.args.text}` (from `{start}...`): {named}. No "
            f"character of it is trained on")


def judge(rows, name_a, name_b, col=3, sd_col=4, band_col=None, over_time=None):
    """(shown, in words): whether two cells' mean held-out bpc differ beyond their seeds' spread
    and, at equal time (band_col), beyond what a TIMING_ERROR in the update times moves, with
    the order holding over the budgets of over_time (times, {name: mean bpc at each})."""
    ra, rb = (next(r for r in rows if r[0] == n) for n in (name_a, name_b))
    diff, sd = rb[col] - ra[col], max(ra[sd_col], rb[sd_col])
    band = ra[band_col] + rb[band_col] if band_col is not None else 0.0
    shown = False
    if ra[1] < 2:
        verdict = "one seed each: the spread between seeds is not measured"
    elif abs(diff) > 2 * sd and abs(diff) <= band:
        verdict = (f"more than twice the larger seed sd ({sd:.3f}), but not more than a {TIMING_ERROR:.0%} "
                   f"error in the update times would move it ({band:.3f}): not shown")
    elif abs(diff) > 2 * sd:
        timing = f" and than a {TIMING_ERROR:.0%} timing error moves it ({band:.3f})" if band_col else ""
        shown, verdict = True, f"more than twice the larger seed sd ({sd:.3f}){timing}"
    elif abs(diff) > sd:
        verdict = f"between one and two seed sds ({sd:.3f}): not conclusive with {ra[1]} seeds"
    else:
        verdict = f"smaller than the seed spread (sd {sd:.3f}): no difference shown"
    if band_col is not None and abs(diff) <= min(band, 2 * sd):
        verdict += (f"; a {TIMING_ERROR:.0%} timing error moves the two readings by {band:.3f} (the seeds' "
                    f"mean shifts, added), so more seeds alone would not settle it")
    if shown and over_time is not None:
        shown, verdict = order_over_time(over_time, name_a, name_b, verdict)
    return shown, verdict


def versus(rows, name_a, name_b, col=3, sd_col=4, band_col=None, over_time=None):
    """In words: how far apart two cells' mean held-out bpc are, and whether that is shown."""
    ra, rb = (next(r for r in rows if r[0] == n) for n in (name_a, name_b))
    diff = rb[col] - ra[col]
    _, verdict = judge(rows, name_a, name_b, col, sd_col, band_col, over_time)
    if diff == 0:
        return f"{name_a} {ra[col]:.3f}, {name_b} {rb[col]:.3f}: equal, {verdict}"
    low = name_a if diff > 0 else name_b
    return (f"{name_a} {ra[col]:.3f}, {name_b} {rb[col]:.3f}: the {low} lower by {abs(diff):.3f} bpc "
            f"(better), {verdict}")


def order_over_time(over_time, name_a, name_b, verdict):
    """(shown, the verdict): "not shown" where the order of the two cells changes between the budgets."""
    times, means = over_time
    d = means[name_b] - means[name_a]
    if np.all(d > 0) or np.all(d < 0):
        return True, verdict + f", and the order holds from {times[0]:.3g} to {times[-1]:.3g} s"
    return False, (f"not shown: from {times[0]:.3g} to {times[-1]:.3g} s of updates the order changes "
                   f"(at the {len(times)} budgets the difference runs from {np.nanmin(d):+.3f} to "
                   f"{np.nanmax(d):+.3f}, {name_b} minus {name_a})")


def comparisons(plan, rows, col, sd_col, band_col=None, over_time=None):
    """The comparisons the page makes, each against the seed spread, as list items."""
    big = label(plan, "rnn-big")
    pairs = [("LSTM", "GRU"), ("LSTM", "vanilla RNN"), ("GRU", "vanilla RNN"), (big, "vanilla RNN"),
             ("LSTM", big)]
    return "\n".join(f"- {versus(rows, x, y, col, sd_col, band_col, over_time)}" for x, y in pairs)


def past_best(hp, rise):
    """In words: whether the larger vanilla RNN's held-out bpc ended above its lowest point
    (rise: final minus lowest, per seed)."""
    each = ", ".join(f"{x:.3f}" for x in rise)
    if np.mean(rise) > 0.01:
        return (f"Its held-out bpc ends {np.mean(rise):.3f} above its own lowest point on average (each "
                f"seed: {each}): it was past its best, which suggests the shared learning rate "
                f"{hp['learning_rate']} does not suit it.")
    return (f"Its held-out bpc ends within 0.01 of its own lowest point (each seed: {each}); its learning "
            f"rate, {hp['learning_rate']}, is the shared one, not tuned for it.")


def shown_at_equal_time(rows, vanilla, over_time):
    """In words: which gated cell's equal-time difference from the vanilla RNN the list shows."""
    shown = [c for c in ("LSTM", "GRU") if judge(rows, c, vanilla, 6, 7, 10, over_time)[0]]
    return f"the difference is shown for {' and '.join(shown)}" if shown else "neither difference is shown"


def apart(x, ref):
    """In words: x against ref, in bpc ("0.478 lower")."""
    return f"{abs(x - ref):.3f} {'lower' if x < ref else 'higher'}"


def worse_or_better(x, ref):
    return "higher (worse)" if x > ref else "lower (better)"


def advantages(plan, hp, table, rows, equal_s, over_time):
    """The answer to the exercise's question, from the runs: the gated cells against the vanilla
    RNN at equal iterations, the larger vanilla RNN, and the cost in time."""
    by = {r[0]: r for r in rows}
    van, big, lstm, gru = (by[label(plan, k)] for k in ("rnn", "rnn-big", "lstm", "gru"))
    sd = max(r[4] for r in rows)
    big_runs = [r for r in table if r[0] == big[0]]
    rise = [r[4] - r[5] for r in big_runs]  # final minus lowest held-out bpc
    at_equal = {r[0]: round(equal_s / (r[9] / 1e3)) for r in table if r[1] == plan.s["cell_seeds"][0]}
    return f"""\
**Advantages of the LSTM and the GRU over a vanilla RNN** (the exercise's question), as far as these
runs show them:

- Per update: at {plan.s['cell_iters']:,} iterations the LSTM's held-out bpc is {apart(lstm[3], van[3])}
  and the GRU's {apart(gru[3], van[3])} than the vanilla RNN's ({van[3]:.3f}; the largest seed sd of the
  four is {sd:.3f}; the list above tests each difference against twice the larger sd of its pair).
- Not by size alone: the vanilla RNN with hidden size {plan.big_hidden} ({big[2]:,} parameters, the LSTM
  has {lstm[2]:,}) ends at {big[3]:.3f}, {worse_or_better(big[3], van[3])} than the default one.
  {past_best(hp, rise)} So this control separates size from the gates only at this learning rate.
- Why, in the equations: a gated cell carries its state through a gated sum (c_t = f * c_(t-1) +
  i * g in the LSTM, h_t = (1 - u) * n + u * h_(t-1) in the GRU), so its gradient survives more
  steps back than the vanilla RNN's (section 5 measures it); whether that lets it carry a
  character further is measured in section 7.
- Their cost: one update takes {lstm[9] / van[9]:.1f} (LSTM) and {gru[9] / van[9]:.1f} (GRU) times as
  long as the vanilla RNN's (measured, the table above). After equal training time ({equal_s:.3g} s of
  updates) the LSTM's held-out bpc is {lstm[6]:.3f} and the GRU's {gru[6]:.3f}, against the vanilla RNN's
  {van[6]:.3f}: the LSTM's is {worse_or_better(lstm[6], van[6])}, the GRU's {worse_or_better(gru[6], van[6])};
  by the tests of the list above, {shown_at_equal_time(rows, van[0], over_time)}.
  At that time they have made fewer updates (seed {plan.s['cell_seeds'][0]}: LSTM {at_equal[lstm[0]]:,}, GRU
  {at_equal[gru[0]]:,}, vanilla RNN {at_equal[van[0]]:,}), so they have also read different stretches
  of the text.

The "it/s (trainer)" column below is the trainer's own count, held-out evaluations included, with
{plan.args.jobs} runs sharing the machine's cores: it depends on the load, so no comparison rests on it."""


def equal_time_note(plan, table, n, equal_s):
    """How the table's equal-time column is read, and its margins."""
    return f"""\
Mean ± standard deviation over the {n} seeds (sample sd), and the held-out bpc after equal training
time: {equal_s:.3g} seconds of updates, as long as the fastest run's {plan.s['cell_iters']:,} updates
take, read off each run's curve (seconds = iterations times the milliseconds of one update,
measured in the report's process as CPU seconds on one core: the fastest of three repeats of about
{TIMING_CHARS:,} characters of lossFun and Adagrad; held-out evaluations and logging are not
counted; evaluations between the points are interpolated). CPU time counts little of what other
processes do, but not nothing: the three repeats of each timing differ by up to
{max(r[13] for r in table):.1%} here (the last column of [cells.csv](cells.csv)). And at equal time the
runs stand at different iterations, so at different places of the text, which the seed sd does not
contain (every seed reads the text in the same order). So
at equal time a difference counts only where it is larger than twice the seed sd and than the
change a {TIMING_ERROR:.0%} error in the update times makes to the two readings (a column of
[cells.csv](cells.csv)), and only where the order of the two cells holds at each of {BUDGETS} budgets
evenly spaced from {1 - SPAN:.0%} of that time to all of it: the held-out curves of all runs move
together with the stretch of training text just read, so a single time can favour whichever cell
has just read an easy stretch:"""


def page_text(plan, hp, fig_name, table, rows, equal_s, over_time):
    md = [[r[0], r[1], f"{r[3]:,}", f"{r[4]:.3f}", f"{r[6]:.3f}", f"{r[7]:+.3f}", f"{r[8]:.0f}",
           f"{r[9]:.3f}", f"{r[10]:.0f}", f"{r[11]:.3f}"] for r in table]
    runs_md = md_table(["cell", "seed", "parameters", "final held-out bpc", "training-text bpc",
                        "gap", "it/s (trainer)", "ms per update", "seconds of updates",
                        f"held-out bpc at {equal_s:.3g} s"], md)
    sm = [[r[0], f"{r[2]:,}", f"{r[3]:.3f} ± {r[4]:.3f}", f"{r[5]:+.3f}", f"{r[6]:.3f} ± {r[7]:.3f}",
           f"{r[9]:.3f}"] for r in rows]
    sum_md = md_table(["cell", "parameters", f"held-out bpc at {plan.s['cell_iters']:,} iterations",
                       "gap (held-out minus training text)", f"held-out bpc at {equal_s:.3g} s",
                       "ms per update (measured)"], sm)
    n = len(plan.s["cell_seeds"])
    return f"""\
Each cell trained with {n} seed{'s' if n > 1 else ''} ({', '.join(map(str, plan.s['cell_seeds']))}), the same
optimizer (Adagrad), learning rate ({hp['learning_rate']}, shared by all cells and tuned for none of them: a
cell's own best learning rate could change its rank, which is not measured here), chunk length
({hp['seq_length']}) and data, {plan.s['cell_iters']:,} iterations each. The vanilla RNN, the LSTM and
the GRU have hidden size {hp['hidden_size']}; the gated cells then have more parameters, so a vanilla RNN
with hidden size {plan.big_hidden}, about the LSTM's parameter count, is trained too. The held-out text
is {heldout_name(plan)}. It is read every {hp['eval_every']:,} iterations as 100 streams; its bits per
character measure how well a model predicts text it has not seen. Beside it, the same measure on as
many characters of the training text (the ones just before the held-out part): the gap between the
two is how much better a model does on text it was trained on (it also contains whatever
makes the two stretches of text differ in difficulty).

![Held-out bits per character]({fig_name})

{equal_time_note(plan, table, n, equal_s)}

{sum_md}

Each difference against the spread between seeds, at equal iterations:

{comparisons(plan, rows, 3, 4)}

and at equal training time ({equal_s:.3g} s):

{comparisons(plan, rows, 6, 7, 10, over_time)}

{advantages(plan, hp, table, rows, equal_s, over_time)}

All runs:

{runs_md}

Data: [cells-heldout.csv](cells-heldout.csv), [cells.csv](cells.csv),
[cells-summary.csv](cells-summary.csv).

{reproduce(plan, 'cells')}"""
