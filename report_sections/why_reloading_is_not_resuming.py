"""Why reloading the weights is not resuming: a run stopped and continued with --resume goes
on exactly as if never stopped; continued from its weights alone (--init-from), its loss jumps
and its first updates are huge. How much, and why?

An ablation tells which part of the state causes the jump: the stopped run is continued with
--resume after resetting one piece of its checkpoint at a time (only the Adagrad memory, only
the hidden state, only the data pointer); --init-from resets all three.

Runs: restart/uninterrupted, restart/stopped, restart/resumed, restart/init-from,
restart/reset-memory, restart/reset-state, restart/reset-pointer (seed 1, every iteration
logged) and restart/steps/ (the parameters after each of the first updates).
Writes: restart-loss.png/.csv (chunk loss around the restart), restart-jump.csv (the
ablation: mean loss after the restart, its excess over the uninterrupted run's and each
reset's share of --init-from's, size of the first update and how many entries it moves far),
restart-updates.png/.csv (size of the first updates, per parameter).
"""
import numpy as np

import analysis as a
from charrnn.checkpoint import load_checkpoint
from report_sections.page import STYLES, f2, md_table, plt, reproduce
from report_sections.plan import ABLATIONS, RESET
from report_sections.runs import checkpoint, loss_columns


NAME = "restart"
HEADING = "Why reloading the weights is not resuming"
CONTENTS = "Why reloading the weights is not resuming"

CURVES = (("uninterrupted", "uninterrupted"), ("--resume", "resumed"), ("--init-from", "init-from"))
# The ablation's rows: (name on the page, run folder, what is reset).
ROWS = (("uninterrupted", "uninterrupted", "nothing (never stopped)"),
        ("--resume", "resumed", "nothing"),
        *((f"reset {what.removeprefix('the ')} only", kind, what) for kind, what in ABLATIONS.items()),
        ("--init-from", "init-from", "all three: memory, state and pointer"))
# One style per run, told apart in greyscale too; --init-from as in the left panel.
ROW_STYLES = dict(zip([r[0] for r in ROWS],
                      [STYLES[0], STYLES[1], dict(color="#CC79A7", linestyle="-"),
                       dict(color="#56B4E9", linestyle=(0, (5, 1))), dict(color="#E69F00", linestyle="-."),
                       STYLES[2]]))


def section(plan, out):
    """(page text, summary line) of the restart comparison and its ablation."""
    n1, n2 = plan.s["stop_at"], plan.s["after"]
    stopped = checkpoint(plan.path("restart", "stopped"))
    curves = restart_curves(plan)
    windows = sorted({min(n2, 10), min(n2, 100), min(n2, 500)})  # the means after the restart
    before = min(n1, max(100, n2 // 4))  # how much of the run before the restart is shown
    loss_fig = loss_figure(out, curves, n1, n2, before, stopped["hparams"]["seq_length"])
    restart_loss_csv(out, curves, n1, n2, before)
    updates = first_updates(plan, stopped)
    jump = ablation(plan, curves, n1, windows, stopped)
    w = middle(windows)
    out.csv("restart-jump.csv", ["run", "reset", f"mean chunk loss, {w} iterations before",
                                 *(f"first {v} after" for v in windows),
                                 *(f"first {v} after minus uninterrupted's" for v in windows),
                                 *(f"first {v} after: share of --init-from's excess" for v in windows),
                                 "first update, mean abs change per entry",
                                 "first update, share of entries moving more than half the learning rate"],
            [[r["name"], r["what"], r["before"], *r["means"], *r["excess"], *r["share"], r["first"],
              r["moved"]] for r in jump])
    upd_fig = updates_figure(out, updates, stopped["hparams"]["learning_rate"])
    page = page_text(plan, stopped["hparams"], (loss_fig, upd_fig), jump, updates, windows)
    i = windows.index(w)
    summary = (f"  restart: chunk loss over the first {w} iterations after it, minus the "
               f"uninterrupted run's: " + ", ".join(f"{r['name']} {r['excess'][i]:+.1f}" for r in jump[1:]))
    return page, summary


def middle(windows):
    """The window the page's main comparison is over: the middle one of (10, 100, 500)."""
    return windows[-2] if len(windows) > 1 else windows[0]


def restart_curves(plan):
    """{row name: (iterations, chunk losses)} of every run of ROWS; the init-from run counts
    from 0, so its iterations are put on the same axis (+ the restart iteration)."""
    curves = {}
    for name, kind, _ in ROWS:
        it, loss, _ = loss_columns(plan.path("restart", kind))
        curves[name] = (it + plan.s["stop_at"] if kind == "init-from" else it, loss)
    return curves


def trailing_mean(x, w):
    """Mean of the last w values at each point (fewer at the start): a curve that never looks ahead."""
    c = np.cumsum(np.insert(np.asarray(x, dtype=float), 0, 0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - w)
    return (c[idx] - c[lo]) / (idx - lo)


def loss_panel(ax, curves, names, n1, window):
    """The runs' chunk loss (trailing means over span iterations) for lo <= it < hi. Each mean
    is over the run's own history: a resumed run's includes the rows before the restart (it
    is the same run), the init-from run's starts at its start."""
    lo, hi, span = window
    for name in names:
        it, loss = curves[name]
        sel = (it >= lo) & (it < hi) & ((it >= n1) | (name == "uninterrupted"))
        style = dict(ROW_STYLES[name], linewidth=1.4)
        if name == "--resume":  # it lies on the uninterrupted run: dots, so both show
            style = dict(color=ROW_STYLES[name]["color"], linestyle="none", marker="o",
                         markersize=3 if span == 1 else 2, markevery=1 if span == 1 else 25)
        ax.plot(it[sel], trailing_mean(loss, span)[sel], label=name, **style)
    ax.axvline(n1, color="0.3", linewidth=0.8)
    ax.grid(True, alpha=0.3)
    ax.set_xlabel("iteration (init-from: its own count + the restart iteration)")


def loss_figure(out, curves, n1, n2, before, T):
    """Left: each iteration's chunk loss near the restart (the three ways to go on); right:
    means of 25, further out, every run of the ablation."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    near = 30 if n2 >= 100 else n2 // 2
    loss_panel(ax1, curves, [r[0] for r in ROWS[:2]] + [ROWS[-1][0]], n1, (n1 - near, n1 + near, 1))
    loss_panel(ax2, curves, [r[0] for r in ROWS], n1, (n1 - before, n1 + n2, 25))
    ax1.set(ylabel=f"chunk loss (sum over {T} characters, nats)",
            title=f"each iteration's chunk loss, restart at {n1:,}")
    ax2.set_title("mean of the last 25 chunk losses of each run")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=7)
    return out.figure(fig, "restart-loss")


def restart_loss_csv(out, curves, n1, n2, before):
    """The figure's data: one row per iteration, a column per run (nan where it has none)."""
    names = [r[0] for r in ROWS]
    byit = {}
    for j, name in enumerate(names):
        it, loss = curves[name]
        keep = (it >= n1 - before) & (it < n1 + n2) & ((it >= n1) | (name == "uninterrupted"))
        for i, v in zip(it[keep], loss[keep]):
            byit.setdefault(int(i), [int(i)] + [float("nan")] * len(names))[1 + j] = float(v)
    header = [n if n != "--init-from" else "--init-from (at its own iteration + the restart iteration)"
              for n in names]
    out.csv("restart-loss.csv", ["iteration", *header], [v for _, v in sorted(byit.items())])


def ablation(plan, curves, n1, windows, stopped):
    """Per run of ROWS, a dict: its name, what is reset, the mean chunk loss before the restart
    (uninterrupted run, over the middle window), its means over the first v iterations after it
    for each v of windows, their excess over the uninterrupted run's, that excess as a share of
    --init-from's, and the first update: mean |change| per entry, and the share of entries it
    moves by more than half the learning rate."""
    it_u, loss_u = curves["uninterrupted"]
    lr = stopped["hparams"]["learning_rate"]
    before_mean = a.window_mean(it_u, loss_u, n1 - middle(windows), n1)
    unint = [a.window_mean(it_u, loss_u, n1, n1 + v) for v in windows]
    rows = []
    for name, kind, what in ROWS:
        it, loss = curves[name]
        means = [a.window_mean(it, loss, n1, n1 + v) for v in windows]
        snap = "resumed" if kind == "uninterrupted" else kind  # the same run, to the bit
        after = load_checkpoint(plan.snapshot(snap, 1))["params"]
        rows.append(dict(name=name, what=what, before=before_mean, means=means,
                         excess=[m - u for m, u in zip(means, unint)],
                         first=a.mean_abs_update([stopped["params"], after])[0],
                         moved=a.moved_share(stopped["params"], after, lr / 2)))
    total = rows[-1]["excess"]  # --init-from: all three reset
    for r in rows:
        r["share"] = [e / t if t > 0 else float("nan") for e, t in zip(r["excess"], total)]
    return rows


def first_updates(plan, stopped):
    """How far the parameters move in the first updates after the restart, per run: per
    parameter and overall (mean |change| per entry), and how far apart the resumed and the
    uninterrupted runs end."""
    S = plan.s["update_steps"]
    snaps = {kind: [stopped["params"]] + [load_checkpoint(plan.snapshot(kind, j))["params"]
                                          for j in range(1, S + 1)] for kind in ("resumed", "init-from")}
    end_u = checkpoint(plan.path("restart", "uninterrupted"))["params"]
    end_r = checkpoint(plan.path("restart", "resumed"))["params"]
    return {"per_param": {k: a.update_sizes(v) for k, v in snaps.items()},
            "overall": {k: a.mean_abs_update(v) for k, v in snaps.items()},
            "same": max(float(np.abs(end_u[q] - end_r[q]).max()) for q in end_u)}


def updates_figure(out, updates, lr):
    """The mean size of each of the first updates, both runs, on a log scale; and its data."""
    overall, per_param = updates["overall"], updates["per_param"]
    S = len(overall["resumed"])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    steps = np.arange(1, S + 1)
    ax.semilogy(steps, overall["resumed"], marker="o", label="--resume (= uninterrupted)", **STYLES[0])
    ax.semilogy(steps, overall["init-from"], marker="s", label="--init-from (fresh Adagrad memory)",
                **STYLES[2])
    ax.axhline(lr, color="0.4", linewidth=0.8, linestyle="-.", label=f"learning rate {lr}")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set(xlabel="update after the restart", ylabel="mean |change| of a parameter entry",
           title="Size of the first updates after the restart")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    name = out.figure(fig, "restart-updates")
    out.csv("restart-updates.csv", ["update", "run", "all parameters", *a.PARAM_NAMES],
            [[j + 1, kind, float(overall[kind][j]), *map(float, per_param[kind][j])]
             for kind in ("resumed", "init-from") for j in range(S)])
    return name


def first_n(ws):
    """'the first 10 and 100 iterations' of a list of windows."""
    ws = [f"{v:,}" for v in ws]
    return "the first " + (ws[0] if len(ws) == 1 else ", ".join(ws[:-1]) + " and " + ws[-1]) + " iterations"


def ablation_text(jump, windows):
    """What the ablation shows, in words, with its numbers: each single reset's excess over the
    uninterrupted run as a share of --init-from's (all three reset), per window; the memory
    reset's share told per window (about all, most, or less than half of the jump)."""
    jr = {r["name"]: r for r in jump}
    singles = [r[0] for r in ROWS[2:-1]]
    what = {r["name"]: r["what"] for r in jump}
    memory = singles[0]
    w = middle(windows)
    total = jr["--init-from"]["excess"][windows.index(w)]
    pct = lambda x: "n/a" if x != x else f"{x:.0%}"  # noqa: E731
    sums = [sum(jr[n]["share"][k] for n in singles) for k in range(len(windows))]
    table = md_table(["reset only", *(f"first {v}" for v in windows)],
                     [[n.removeprefix("reset ").removesuffix(" only"), *map(pct, jr[n]["share"])]
                      for n in singles] + [["sum of the three", *map(pct, sums)]])
    groups = (("about the whole jump", lambda x: x >= 0.8), ("most of the jump", lambda x: 0.5 <= x < 0.8),
              ("less than half of the jump", lambda x: x < 0.5))
    clauses = []
    for words, test in groups:
        ks = [k for k, x in enumerate(jr[memory]["share"]) if x == x and test(x)]
        if not ks:
            continue
        shares = ", ".join(pct(jr[memory]["share"][k]) for k in ks)
        clause = f"{words} over {first_n([windows[k] for k in ks])} ({shares}"
        if words != groups[0][0]:  # what else is there: the largest other single reset
            other = max(singles[1:], key=lambda n: np.nansum([jr[n]["share"][k] for k in ks]))
            clause += (f"; resetting {what[other]} alone gives "
                       f"{', '.join(pct(jr[other]['share'][k]) for k in ks)} there")
        clauses.append(clause + ")")
    verdict = (f"resetting the Adagrad memory alone gives {' and '.join(clauses)}" if clauses
               else "no share can be told: --init-from's loss is not above the uninterrupted run's")
    adds = ""
    if not any(x != x for x in sums):
        about = all(0.9 <= x <= 1.1 for x in sums)
        adds = (" The three shares add up to about 100% in every window." if about
                else " The three shares do not sum to 100% in every window: the effects do not simply add.")
    return (f"Over the first {w} iterations after the restart, the mean chunk loss is "
            f"{'below' if total < 0 else 'above'} the uninterrupted run's by {abs(total):.2f} with "
            f"--init-from (all three reset). Each single "
            f"reset's excess, as a share of --init-from's, per window:\n\n{table}\n\nSo {verdict}."
            f"{adds} (Resetting the pointer alone also changes which text the next chunks are: the "
            f"beginning of the file again, so its row mixes the reset with how hard that stretch of "
            f"text is.)")


def identical(largest):
    """In words: how the resumed run's weights compare, by their largest difference."""
    return "are bit-for-bit identical to" if largest == 0 else f"differ by at most {largest:.1e} from"


def page_text(plan, hp, figures, jump, updates, windows):
    n1, n2, S, lr = plan.s["stop_at"], plan.s["after"], plan.s["update_steps"], hp["learning_rate"]
    loss_fig, upd_fig = figures
    first, same = updates["per_param"], updates["same"]
    moved = {r["name"]: r["moved"] for r in jump}
    w = middle(windows)
    up_rows = [[q, f"{first['resumed'][0][i]:.2e}", f"{first['init-from'][0][i]:.3f}",
                f"{first['init-from'][0][i] / first['resumed'][0][i]:.0f}x"]
               for i, q in enumerate(a.PARAM_NAMES)]
    jump_md = md_table(["run", "reset", f"mean chunk loss, {w} before",
                        *(f"first {v} after" for v in windows), f"first {w}: minus uninterrupted",
                        "first update (mean abs change per entry)"],
                       [[r["name"], r["what"], *(f2(v) for v in (r["before"], *r["means"])),
                         f2(r["excess"][windows.index(w)]), f"{r['first']:.1e}"] for r in jump])
    fields = "; ".join(f"{what}: `{'`, `'.join(RESET[kind])}`" for kind, what in ABLATIONS.items())
    return f"""\
**Why training cannot simply go on from reloaded weights.** A run of the vanilla RNN (seed 1,
every iteration logged) stopped at iteration {n1:,} and went on for {n2:,} more iterations in six
ways: never stopped; with `--resume` (the full state: Adagrad memory, hidden state, data
pointer, random generator); with `--init-from` (the weights only: a fresh Adagrad memory, a zero
hidden state, the data pointer back at 0); and, as an ablation, resetting **one** piece of the
state at a time. For those, the stopped run's folder was copied and in the copy's
`checkpoint.npz` exactly these arrays were set to zero, every other field kept (the weights,
the iteration count, the smoothed loss, the random generator, the sizes and SHA-256 of the logs):
{fields}; then the copy was continued with `--resume`. The figure's left panel shows each
iteration's own chunk loss, its right panel a running mean of the last 25 chunk losses; neither
is the trainer's smoothed loss (that restarts from its initial value in a new run and would show
a spike that is only an artefact).

![Chunk loss around the restart]({loss_fig})

{jump_md}

The resumed run is the uninterrupted run: its chunk losses lie on the other's, and at iteration
{n1 + n2:,} its weights {identical(same)} the uninterrupted run's. {ablation_text(jump, windows)}
One seed and one stopping point: the sizes are this
run's, the order of the rows is what the ablation shows. Data: [restart-loss.csv](restart-loss.csv),
[restart-jump.csv](restart-jump.csv) (also every window's excess and share).

![Size of the first updates]({upd_fig})

Why the optimizer's memory matters: Adagrad divides each step by the square root of the sum of
all squared gradients so far. After {n1:,} iterations that sum is large and the steps are small;
a fresh memory holds only the first gradient, so the first step is learning_rate * g /
sqrt(g^2 + 1e-8), about ±{lr} for every entry with a gradient: {moved['--init-from']:.0%} of all
parameter entries move by more than {lr / 2} in the first update after `--init-from`,
{moved['--resume']:.0%} after `--resume` ([restart-jump.csv](restart-jump.csv), last column; Wxh
moves less: only the columns of the characters in the first chunk get a gradient). Weights that
were moving by {updates['overall']['resumed'][0]:.1e} per entry per update (the resumed run's first
update) are pushed by about {lr} at once, which undoes part of what they learnt: the loss jumps
(the table's later windows show how far it has come back). First update, mean |change| per entry:

{md_table(['parameter', '--resume', '--init-from', 'ratio'], up_rows)}

Data: [restart-updates.csv](restart-updates.csv) (every one of the first {S} updates, per parameter;
its runs `resumed` and `init-from` are `--resume` and `--init-from`).

{reproduce(plan, 'restart')}"""
