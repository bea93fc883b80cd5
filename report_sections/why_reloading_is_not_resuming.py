"""Why reloading the weights is not resuming: a run stopped and continued with --resume goes
on exactly as if never stopped; continued from its weights alone (--init-from), its loss jumps
and its first updates are huge. How much, and why?

Runs: restart/uninterrupted, restart/stopped, restart/resumed, restart/init-from (seed 1,
every iteration logged) and restart/steps/ (the parameters after each of the first updates).
Writes: restart-loss.png/.csv (chunk loss around the restart), restart-jump.csv (mean loss
before and after), restart-updates.png/.csv (size of the first updates, per parameter).
"""
import numpy as np

import analysis as a
import min_char_rnn as m
from charrnn.cells import cell_module
from charrnn.checkpoint import load_checkpoint
from report_sections.page import STYLES, f2, md_table, plt, reproduce
from report_sections.runs import checkpoint, loss_columns


NAME = "restart"
HEADING = "Why reloading the weights is not resuming"
CONTENTS = "Why reloading the weights is not resuming"

CURVES = (("uninterrupted", "uninterrupted"), ("--resume", "resumed"), ("--init-from", "init-from"))


def section(plan, out):
    """(page text, summary line) of the restart comparison."""
    n1, n2 = plan.s["stop_at"], plan.s["after"]
    stopped = checkpoint(plan.path("restart", "stopped"))
    curves = restart_curves(plan)
    w = 100 if n2 >= 400 else max(5, n2 // 4)  # the window of the means below
    before = min(n1, max(100, n2 // 4))  # how much of the run before the restart is shown
    loss_fig = loss_figure(out, curves, n1, n2, before, stopped["hparams"]["seq_length"])
    restart_loss_csv(out, curves, n1, n2, before)
    jump_rows = jumps(curves, n1, n2, w)
    out.csv("restart-jump.csv", ["run", f"mean chunk loss, {w} iterations before", "first 10 after",
                                 f"first {w} after", "jump", f"last {w} of the window"], jump_rows)
    updates = first_updates(plan, stopped)
    upd_fig = updates_figure(out, updates, stopped["hparams"]["learning_rate"])
    frozen = frozen_loss(plan, stopped, w)
    page = page_text(plan, stopped["hparams"], loss_fig, upd_fig, jump_rows, updates, frozen, w)
    jr = {r[0]: r for r in jump_rows}
    overall = updates["overall"]
    summary = (f"  restart: chunk-loss jump {jr['--init-from'][4]:+.2f} after --init-from, "
               f"{jr['--resume'][4]:+.2f} after --resume; first update {overall['init-from'][0]:.3f} vs "
               f"{overall['resumed'][0]:.1e} per entry")
    return page, summary


def restart_curves(plan):
    """{run: (iterations, chunk losses)} of the three continuations; the init-from run counts
    from 0, so its iterations are put on the same axis (+ the restart iteration)."""
    curves = {}
    for name, kind in CURVES:
        it, loss, _ = loss_columns(plan.path("restart", kind))
        curves[name] = (it + plan.s["stop_at"] if kind == "init-from" else it, loss)
    return curves


def trailing_mean(x, w):
    """Mean of the last w values at each point (fewer at the start): a curve that never looks ahead."""
    c = np.cumsum(np.insert(np.asarray(x, dtype=float), 0, 0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - w)
    return (c[idx] - c[lo]) / (idx - lo)


def loss_panel(ax, curves, n1, lo, hi, span):
    """The three runs' chunk loss (trailing means over span iterations) for lo <= it < hi.
    Each mean is over the run's own history: the resumed run's includes the rows before the
    restart (it is the same run), the init-from run's starts at its start."""
    (it_u, loss_u), (it_r, loss_r), (it_i, loss_i) = (curves[name] for name, _ in CURVES)
    su, sr, si = ((it >= lo) & (it < hi) for it in (it_u, it_r, it_i))
    sr &= it_r >= n1
    ax.plot(it_u[su], trailing_mean(loss_u, span)[su], label="uninterrupted", linewidth=1.2, **STYLES[0])
    ax.plot(it_r[sr], trailing_mean(loss_r, span)[sr], label="stopped, then --resume",
            color=STYLES[1]["color"], linestyle="none", marker="o",
            markersize=3 if span == 1 else 2, markevery=1 if span == 1 else 25)
    ax.plot(it_i[si], trailing_mean(loss_i, span)[si], label="stopped, then --init-from",
            linewidth=1.5, **STYLES[2])
    ax.axvline(n1, color="0.3", linewidth=0.8)
    ax.grid(True, alpha=0.3)
    ax.set_xlabel("iteration (init-from: its own count + the restart iteration)")


def loss_figure(out, curves, n1, n2, before, T):
    """Left: each iteration's chunk loss near the restart; right: means of 25, further out."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    near = 30 if n2 >= 100 else n2 // 2
    loss_panel(ax1, curves, n1, n1 - near, n1 + near, 1)
    loss_panel(ax2, curves, n1, n1 - before, n1 + n2, 25)
    ax1.set(ylabel=f"chunk loss (sum over {T} characters, nats)",
            title=f"each iteration's chunk loss, restart at {n1:,}")
    ax2.set_title("mean of the last 25 chunk losses of each run")
    ax1.legend(fontsize=8)
    return out.figure(fig, "restart-loss")


def restart_loss_csv(out, curves, n1, n2, before):
    """The figure's data: one row per iteration, a column per run (empty where it has none)."""
    (it_u, loss_u), (it_r, loss_r), (it_i, loss_i) = (curves[name] for name, _ in CURVES)
    byit = {int(i): [int(i), float(v), "", ""] for i, v in zip(it_u, loss_u)
            if n1 - before <= i < n1 + n2}
    keep_r = it_r >= n1
    for i, v in zip(it_r[keep_r], loss_r[keep_r]):
        byit.setdefault(int(i), [int(i), "", "", ""])[2] = float(v)
    for i, v in zip(it_i, loss_i):
        byit.setdefault(int(i), [int(i), "", "", ""])[3] = float(v)
    out.csv("restart-loss.csv", ["iteration", "uninterrupted", "resumed", "init-from (iteration + restart)"],
            [v for _, v in sorted(byit.items())])


def jumps(curves, n1, n2, w):
    """Per run: the mean chunk loss over the w iterations before the restart (of the
    uninterrupted run), the first 10 and first w after, the jump, and the last w."""
    it_u, loss_u = curves["uninterrupted"]
    before_mean = a.window_mean(it_u, loss_u, n1 - w, n1)
    rows = []
    for name, (it, loss) in curves.items():
        first10, first_w = a.window_mean(it, loss, n1, n1 + 10), a.window_mean(it, loss, n1, n1 + w)
        last_w = a.window_mean(it, loss, n1 + n2 - w, n1 + n2)
        rows.append([name, before_mean, first10, first_w, first_w - before_mean, last_w])
    return rows


def first_updates(plan, stopped):
    """How far the parameters move in the first updates after the restart, per run: per
    parameter and overall (mean |change| per entry), the share of entries that move by more
    than half the learning rate in the first update, and how far apart the resumed and the
    uninterrupted runs end."""
    S, lr = plan.s["update_steps"], stopped["hparams"]["learning_rate"]
    snaps = {kind: [stopped["params"]] + [load_checkpoint(plan.snapshot(kind, j))["params"]
                                          for j in range(1, S + 1)] for kind in ("resumed", "init-from")}
    end_u = checkpoint(plan.path("restart", "uninterrupted"))["params"]
    end_r = checkpoint(plan.path("restart", "resumed"))["params"]
    return {"per_param": {k: a.update_sizes(v) for k, v in snaps.items()},
            "overall": {k: a.mean_abs_update(v) for k, v in snaps.items()},
            "moved": {k: a.moved_share(v[0], v[1], lr / 2) for k, v in snaps.items()},
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


def frozen_loss(plan, stopped, w):
    """The stopped run's weights, unchanged, on the first w chunks of the text (each read from
    a zero state, as one stream): what the init-from run's first chunks cost without its updates."""
    T = stopped["hparams"]["seq_length"]
    _, data = m.build_vocab(plan.text)
    chunk = data[:w * T + 1]
    cell = cell_module(stopped["hparams"]["cell"])
    return m.heldout_loss(chunk[:-1, None], chunk[1:, None], stopped["params"], cell) / w


def page_text(plan, hp, loss_fig, upd_fig, jump_rows, updates, frozen, w):
    n1, n2, S, lr = plan.s["stop_at"], plan.s["after"], plan.s["update_steps"], hp["learning_rate"]
    jr = {r[0]: r for r in jump_rows}
    before_mean, moved, first, same = jump_rows[0][1], updates["moved"], updates["per_param"], updates["same"]
    up_rows = [[q, f"{first['resumed'][0][i]:.2e}", f"{first['init-from'][0][i]:.3f}",
                f"{first['init-from'][0][i] / first['resumed'][0][i]:.0f}x"]
               for i, q in enumerate(a.PARAM_NAMES)]
    jump_md = md_table(["run", f"mean chunk loss, {w} before", "first 10 after", f"first {w} after",
                        "jump", f"last {w} of the window"],
                       [[r[0], *(f2(v) for v in r[1:])] for r in jump_rows])
    return f"""\
A run of the vanilla RNN (seed 1, every iteration logged) stopped at iteration {n1:,} and went on
for {n2:,} more iterations twice: with `--resume` (the full state: Adagrad memory, hidden state,
data pointer, random generator) and with `--init-from` (the weights only: fresh Adagrad memory, a
zero hidden state, the data pointer back at 0), beside the same run never stopped. The figure
shows each iteration's own chunk loss, not the smoothed loss: that restarts from its initial
value in a new run and would show a spike that is only an artefact.

![Chunk loss around the restart]({loss_fig})

{jump_md}

The resumed run is the uninterrupted run: its chunk losses lie on the other's, and at iteration
{n1 + n2:,} its weights differ from the uninterrupted run's by at most {same:.1e} (0 means bit for
bit). The run from the weights alone jumps by {f2(jr['--init-from'][4])} nats per chunk over its
first {w} iterations. Part of that is the text: it starts again at the beginning, where the
stopped weights, left unchanged, lose {frozen:.2f} per chunk on the same {w} chunks (read from a
zero state), {frozen - before_mean:+.2f} against the {before_mean:.2f} before the restart; the other
{jr['--init-from'][3] - frozen:.2f} nats per chunk are what the first updates with a fresh Adagrad
memory do to the weights. Data: [restart-loss.csv](restart-loss.csv),
[restart-jump.csv](restart-jump.csv).

![Size of the first updates]({upd_fig})

Adagrad divides each step by the square root of the sum of all squared gradients so far. After
{n1:,} iterations that sum is large and the steps are small; a fresh memory holds only the first
gradient, so the first step is learning_rate * g / sqrt(g^2 + 1e-8), about ±{lr} for every entry
with a gradient: {moved['init-from']:.0%} of all parameter entries move by more than {lr / 2} in
the first update after `--init-from`, {moved['resumed']:.0%} after `--resume` (Wxh moves less:
only the columns of the characters in the first chunk get a gradient). First update, mean
|change| per entry:

{md_table(['parameter', '--resume', '--init-from', 'ratio'], up_rows)}

Data: [restart-updates.csv](restart-updates.csv) (every one of the first {S} updates, per parameter).

{reproduce(plan, 'restart')}"""
