"""Regenerate samples/: the exercise's figures and tables, and measurements that answer its
"why" questions, from real training runs.

    python report.py            # the full report: under 10 minutes on 2 cores
    python report.py --quick    # the same with small iteration counts, about a minute
    python report.py --pdf      # PDF figures beside the PNGs

Training happens in `python min_char_rnn.py ...` subprocesses, two at a time, into
runs/report/<scale>/: exactly a user's runs. A finished run is reused, an interrupted one
(Ctrl-C stops the report and every run, each saving its checkpoint) is continued with
--resume. Then every analysis (analysis.py) reads the runs' CSV files and checkpoints, and
samples/ is written from scratch: figures (PNG, PDF with --pdf), the CSV data behind each
figure and table, and samples/README.md, the report page.

  1. the exercise: three seeds of the vanilla RNN at the classic defaults
  2. greedy vs multinomial decoding of the same trained models
  3. why reloading the weights is not resuming (--resume vs --init-from)
  4. vanilla RNN vs LSTM vs GRU on held-out text
  5. vanishing gradients: d loss_t / d state_{t-k} against k
  6. how often gradient clipping bites
"""
import os
import sys

if __name__ == "__main__":
    # One BLAS thread per process: the analyses' matrices are small, and the training
    # subprocesses get the cores.
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import contextlib
import csv
import datetime
import math
import platform
import re
import shutil
import signal
import subprocess
import textwrap
import time

import numpy as np

import analysis as a
import min_char_rnn as m

ROOT = os.path.dirname(os.path.abspath(__file__))
TRAINER = os.path.join(ROOT, "min_char_rnn.py")

# How much each scale trains. full: the report as shipped; quick: a first look in about a
# minute; tiny: the test suite's end-to-end run on a small text (seconds).
SCALES = {
    "full": dict(exercise_iters=100000, seeds=(1, 2, 3), cell_iters=100000, cell_seeds=(1,),
                 eval_every=2000, stop_at=20000, after=2000, update_steps=10, hidden_size=None,
                 sample_length=600, grad_streams=256, grad_k=120, grad_warmup=50,
                 favourites_from=100, status_every=10.0),
    "quick": dict(exercise_iters=10000, seeds=(1, 2, 3), cell_iters=10000, cell_seeds=(1,),
                  eval_every=1000, stop_at=5000, after=1000, update_steps=5, hidden_size=None,
                  sample_length=300, grad_streams=64, grad_k=100, grad_warmup=25,
                  favourites_from=10, status_every=5.0),
    "tiny": dict(exercise_iters=300, seeds=(1, 2, 3), cell_iters=300, cell_seeds=(1,),
                 eval_every=100, stop_at=200, after=60, update_steps=3, hidden_size=16,
                 sample_length=120, grad_streams=16, grad_k=100, grad_warmup=5,
                 favourites_from=3, status_every=2.0),
}
# Guesses of the training speed (iterations per second, hidden size 100, one core) for the
# first estimate of the time left; replaced by the measured speed as soon as there is one.
SPEED_GUESS = {"rnn": 4000.0, "lstm": 700.0, "gru": 850.0}
PRIME = "ROMEO:"  # the prime of every generated text (a newline where the text lacks it)
DECODINGS = [("greedy", "greedy", 1.0), ("T = 0.5", "multinomial", 0.5),
             ("T = 1.0", "multinomial", 1.0)]
STYLES = [dict(color="#0072B2", linestyle="-"), dict(color="#D55E00", linestyle="--"),
          dict(color="#009E73", linestyle=":"), dict(color="#555555", linestyle="-.")]
MARKERS = ["o", "s", "^", "D"]


class ReportError(Exception):
    """Something the user can fix: one line on stderr, no traceback."""


def clock(t0):
    s = int(time.perf_counter() - t0)
    return f"{s // 60}:{s % 60:02d}"


def say(t0, msg):
    print(f"[{clock(t0)}] {msg}", flush=True)


# ---------------------------------------------------------------------------
# Training runs: subprocesses of min_char_rnn.py, at most --jobs at a time
# ---------------------------------------------------------------------------

def last_iteration(loss_csv):
    """The iteration of the last complete row of a loss.csv, or None."""
    try:
        with open(loss_csv, "rb") as f:
            f.seek(max(0, os.path.getsize(loss_csv) - 400))
            lines = f.read().decode("utf-8", "replace").split("\n")
        return int(lines[-2].split(",")[0]) if len(lines) >= 3 else None
    except (OSError, ValueError):
        return None


def checkpoint_n(out):
    """The iteration a run directory's checkpoint is at (0 when there is none)."""
    ckpt = os.path.join(out, "checkpoint.npz")
    return m.load_checkpoint(ckpt)["n"] if os.path.exists(ckpt) else 0


class Plan:
    """The runs of one report: what to train, in which order, and the commands used."""

    def __init__(self, args, scale):
        self.args, self.s = args, scale
        self.root = args.runs_dir
        self.text = m.read_text(args.text)
        if len(set(self.text)) < 2:  # nothing to predict: every analysis would be empty
            raise ReportError(f"'{args.text}' has only one distinct character: give a real text")
        self.sha = m.text_sha256(self.text)
        self.commands = {}  # section -> the trainer commands it ran (or would run), for the page
        self.env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                        MKL_NUM_THREADS="1")

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def options(self, **given):
        opts = dict(given)
        if self.s["hidden_size"]:
            opts.setdefault("hidden_size", self.s["hidden_size"])
        return opts

    def command(self, out, iters, opts, init_from=None, resume=False):
        cmd = ["python", "min_char_rnn.py", self.args.text]
        if resume:
            cmd += ["--resume"]
        else:
            for k, v in opts.items():
                cmd += [f"--{k.replace('_', '-')}", str(v)]
            if init_from:
                cmd += ["--init-from", init_from]
        return cmd + ["--iters", str(iters), "--out", out]

    def note(self, section, cmd):
        shown = " ".join(cmd)
        if shown not in self.commands.setdefault(section, []):
            self.commands[section].append(shown)

    def check(self, out, opts):
        """A run already in `out` must be this report's: same text, same options."""
        ckpt = os.path.join(out, "checkpoint.npz")
        if os.path.exists(ckpt):
            state = m.load_checkpoint(ckpt)
            differ = [k for k, v in opts.items() if state["hparams"][k] != v]
            if state["text_sha256"] != self.sha or differ:
                why = "another text" if state["text_sha256"] != self.sha else f"another --{differ[0]}"
                raise ReportError(f"'{out}' holds a run with {why} than this report's: remove "
                                  f"'{self.root}' (or give another --runs-dir) and run again")

    def train_to(self, section, out, iters, opts, init_from=None):
        """Yield the command that brings the run in `out` to `iters` iterations, if any:
        a new run, or --resume of one that stopped short. A finished run yields nothing."""
        if section:
            self.note(section, self.command(out, iters, opts, init_from))
        if not os.path.exists(os.path.join(out, "checkpoint.npz")):
            yield self.command(out, iters, opts, init_from)
            return
        self.check(out, opts)
        if checkpoint_n(out) < iters:
            yield self.command(out, iters, opts, resume=True)

    def jobs(self):
        """The report's jobs, longest first."""
        s = self.s
        jobs = []
        for cell in ("lstm", "gru", "rnn"):
            for seed in s["cell_seeds"]:
                out = self.path("cells", cell, f"seed-{seed}")
                opts = self.options(cell=cell, seed=seed, val_frac=0.1, eval_every=s["eval_every"])
                self.check(out, opts)
                jobs.append(Job(f"cells/{cell}/seed-{seed}", cell, [(out, s["cell_iters"], 0)],
                                self.train_to("cells", out, s["cell_iters"], opts)))
        for seed in s["seeds"]:
            out, opts = self.path("exercise", f"seed-{seed}"), self.options(seed=seed)
            self.check(out, opts)
            jobs.append(Job(f"exercise/seed-{seed}", "rnn", [(out, s["exercise_iters"], 0)],
                            self.train_to("exercise", out, s["exercise_iters"], opts)))
        n1, n2 = s["stop_at"], s["after"]
        opts = self.options(seed=1, log_every=1)
        self.commands["restart"] = self.restart_commands(opts)
        R = lambda *p: self.path("restart", *p)  # noqa: E731
        for kind in ("uninterrupted", "stopped", "resumed", "init-from"):
            self.check(R(kind), opts)
        jobs += [Job("restart/uninterrupted", "rnn", [(R("uninterrupted"), n1 + n2, 0)],
                     self.train_to(None, R("uninterrupted"), n1 + n2, opts)),
                 Job("restart/stopped", "rnn", [(R("stopped"), n1, 0)],
                     self.train_to(None, R("stopped"), n1, opts)),
                 Job("restart/resumed", "rnn", [(R("resumed"), n1 + n2, n1)],
                     self.restart_chain("resumed", opts), after=("restart/stopped",)),
                 Job("restart/init-from", "rnn", [(R("init-from"), n2, 0)],
                     self.restart_chain("init-from", opts), after=("restart/stopped",))]
        return jobs

    def restart_commands(self, opts):
        """What the restart jobs run, as shell commands for the page."""
        n1, n2, S = self.s["stop_at"], self.s["after"], self.s["update_steps"]
        R = lambda *p: self.path("restart", *p)  # noqa: E731
        run = lambda *a: " ".join(self.command(*a))  # noqa: E731
        return [run(R("uninterrupted"), n1 + n2, opts),
                run(R("stopped"), n1, opts),
                f"cp -r {R('stopped')} {R('resumed')}; mkdir -p {R('steps')}",
                f"for j in $(seq 1 {S}); do {run(R('resumed'), f'$(({n1} + j))', opts, None, True)}; "
                f"cp {R('resumed', 'checkpoint.npz')} {R('steps')}/resumed-$j.npz; done",
                run(R("resumed"), n1 + n2, opts, None, True),
                run(R("init-from"), 1, opts, R("stopped", "checkpoint.npz")),
                f"cp {R('init-from', 'checkpoint.npz')} {R('steps')}/init-from-1.npz",
                f"for j in $(seq 2 {S}); do {run(R('init-from'), '$j', opts, None, True)}; "
                f"cp {R('init-from', 'checkpoint.npz')} {R('steps')}/init-from-$j.npz; done",
                run(R("init-from"), n2, opts, None, True)]

    def snapshot(self, kind, j):
        return self.path("restart", "steps", f"{kind}-{j}.npz")

    def restart_chain(self, kind, opts):
        """Continue the stopped run (kind resumed: --resume; init-from: --init-from its
        checkpoint), one iteration at a time for the first update_steps iterations, keeping
        each checkpoint (the parameters after every update), then on to the end."""
        n1, n2, steps = self.s["stop_at"], self.s["after"], self.s["update_steps"]
        stopped = self.path("restart", "stopped")
        out = self.path("restart", kind)
        base = n1 if kind == "resumed" else 0  # the continuation's iteration numbers start here
        if kind == "resumed" and not os.path.exists(os.path.join(out, "checkpoint.npz")):
            # the stopped run, continued in a copy, so its checkpoint stays for --init-from
            tmp = out + ".copying"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(stopped, tmp)
            os.replace(tmp, out)
        os.makedirs(self.path("restart", "steps"), exist_ok=True)
        init_from = os.path.join(stopped, "checkpoint.npz") if kind == "init-from" else None
        for j in range(1, steps + 1):
            snap = self.snapshot(kind, j)
            if os.path.exists(snap):
                continue
            if checkpoint_n(out) > base + j:
                raise ReportError(f"'{snap}' is missing and '{out}' is already past it: remove "
                                  f"'{self.path('restart')}' and run again")
            yield from self.train_to(None, out, base + j, opts, init_from)
            shutil.copyfile(os.path.join(out, "checkpoint.npz"), snap + ".tmp")
            os.replace(snap + ".tmp", snap)
        yield from self.train_to(None, out, base + n2, opts, init_from)


class Job:
    """A named sequence of trainer commands (a generator yields them, deciding as it goes),
    run one after another once the jobs it depends on are done.

    runs: (out, iters, start) for each run it brings to `iters` iterations, `start` being
    where a run that is not there yet begins: what is left to do, for the time estimate.
    """

    def __init__(self, name, cell, runs, commands, after=()):
        self.name, self.cell, self.runs, self.commands, self.after = name, cell, runs, commands, after
        self.proc = self.log = None

    def left(self):
        """Iterations still to train."""
        return sum(max(0, iters - (checkpoint_n(out) if os.path.exists(os.path.join(out, "checkpoint.npz"))
                                   else start)) for out, iters, start in self.runs)

    def start_next(self, env, logs):
        """Start the job's next command as a subprocess; False when there is none left."""
        try:
            cmd = next(self.commands)
        except StopIteration:
            return False
        self.out, self.iters = cmd[cmd.index("--out") + 1], int(cmd[cmd.index("--iters") + 1])
        self.log = open(os.path.join(logs, self.name.replace("/", "-") + ".log"), "a")
        self.log.write(f"$ {' '.join(cmd)}\n")
        self.log.flush()
        self.cmd = cmd
        self.proc = subprocess.Popen([sys.executable, TRAINER, *cmd[2:]], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        # where this command starts, and when: for its speed
        self.n0 = (last_iteration(os.path.join(self.out, "loss.csv")) or 0) if "--resume" in cmd else 0
        self.t0 = time.perf_counter()
        return True


def train_all(plan, t0):
    """Run every job's commands, at most --jobs subprocesses at a time, printing progress.
    Returns (jobs that had nothing left to do, all jobs)."""
    hidden = plan.s["hidden_size"] or m.HPARAM_DEFAULTS["hidden_size"]
    guess = {c: v * (100 / hidden) ** 2 for c, v in SPEED_GUESS.items()}  # cost grows as H^2
    logs = plan.path("logs")
    os.makedirs(logs, exist_ok=True)
    pending, running, done, reused = plan.jobs(), [], set(), set()
    measured = {}  # cell -> iterations per second seen
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)
        for job in running:
            if job.proc.poll() is None:
                job.proc.send_signal(signum)  # each run saves its checkpoint and exits
    handlers = {sg: signal.signal(sg, on_signal) for sg in (signal.SIGINT, signal.SIGTERM)}

    def start(job):
        if not job.start_next(plan.env, logs):
            return False
        if job.iters - job.n0 > 50:  # the one-iteration steps of the restart runs are not news
            say(t0, f"{job.name}: {' '.join(job.cmd)}")
        return True

    last_status = time.perf_counter()
    try:
        while (pending or running) and not stop:
            for job in list(pending):
                if len(running) >= plan.args.jobs:
                    break
                if set(job.after) <= done:
                    pending.remove(job)
                    if start(job):
                        running.append(job)
                    else:
                        say(t0, f"{job.name}: finished before, reused")
                        done.add(job.name)
                        reused.add(job.name)
            time.sleep(0.1)
            for job in list(running):
                if job.proc.poll() is None:
                    continue
                job.log.close()
                if job.proc.returncode != 0:
                    if stop:
                        break
                    with open(job.log.name) as f:
                        tail = [line.rstrip() for line in f if line.strip()][-1:]
                    raise ReportError(f"{job.name} failed (exit code {job.proc.returncode}): "
                                      f"{tail[0] if tail else ''} (log: {job.log.name})")
                if not start(job):
                    say(t0, f"{job.name}: finished")
                    running.remove(job)
                    done.add(job.name)
            now = time.perf_counter()
            if now - last_status >= plan.s["status_every"] and running:
                last_status = now
                parts = []
                for job in running:
                    it = last_iteration(os.path.join(job.out, "loss.csv"))
                    if it is None or it <= job.n0 or now <= job.t0:
                        parts.append(f"{job.name}: starting")
                        continue
                    rate = (it - job.n0) / (now - job.t0)
                    measured[job.cell] = rate
                    parts.append(f"{job.name}: iteration {it} of {job.iters}, {rate:.0f} it/s, "
                                 f"{m.format_seconds((job.iters - it) / rate)} left")
                # all the work left, at the speeds seen, shared by the cores
                work = [j.left() / measured.get(j.cell, guess[j.cell]) for j in pending + running]
                left = max(max(work, default=0), sum(work) / plan.args.jobs)
                say(t0, "; ".join(parts) + f" | training: about {m.format_seconds(left)} left")
    finally:
        for sg, h in handlers.items():
            signal.signal(sg, h)
        for job in running:  # after a failure: the others save their checkpoints and stop too
            if job.proc.poll() is None:
                job.proc.send_signal(signal.SIGINT)
            job.proc.wait()
    if stop:
        raise KeyboardInterrupt
    return len(reused), len(done)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------------------
# Reading runs
# ---------------------------------------------------------------------------

def read_csv(path):
    """A CSV log as {column: list of strings}, rows sorted by iteration, the last row per
    iteration kept; a half-written last line (a run killed mid-write) is left out."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for r in reader if len(r) == len(header)]
    by_it = {}
    for r in rows:
        try:
            by_it[int(r[0])] = r
        except ValueError:
            continue
    rows = [by_it[k] for k in sorted(by_it)]
    return {h: [r[i] for r in rows] for i, h in enumerate(header)}


def loss_columns(run):
    """iteration, per-chunk loss and smoothed loss of a run, as arrays."""
    c = read_csv(os.path.join(run, "loss.csv"))
    return (np.array(c["iteration"], dtype=int), np.array(c["loss"], dtype=float),
            np.array(c["smooth_loss"], dtype=float))


SAMPLE_HEADER = re.compile(r"--- iteration (\d+) ---\n")


def read_samples(path, length):
    """The training samples of samples.txt: [(iteration, text)]. Each is `length` characters
    after its header line, so a sample that holds a line like a header is read right."""
    with open(path, encoding="utf-8") as f:
        content = f.read()
    out, pos = [], 0
    while (head := SAMPLE_HEADER.match(content, pos)) is not None:
        out.append((int(head.group(1)), content[head.end():head.end() + length]))
        pos = head.end() + length + 1  # the sample, then a newline
    return out


def training_speed(log_path):
    """Iterations per second over all the trainer's sessions in a log: total iterations over
    total seconds, from its final lines '... N iterations in X s (R it/s)'."""
    try:
        with open(log_path) as f:
            found = re.findall(r"(\d+) iterations in ([\d.]+) s", f.read())
    except OSError:
        return float("nan"), float("nan")
    iters, secs = sum(int(n) for n, _ in found), sum(float(s) for _, s in found)
    return (iters / secs if secs > 0 else float("nan")), secs


# ---------------------------------------------------------------------------
# Writing: figures, CSV files, Markdown
# ---------------------------------------------------------------------------

class Output:
    """The files of the report page: every figure (PNG, and PDF with --pdf) and CSV file."""

    def __init__(self, folder, pdf):
        self.folder, self.pdf, self.files = folder, pdf, []
        os.makedirs(folder)

    def figure(self, fig, name):
        fig.tight_layout()
        for ext in ("png", "pdf") if self.pdf else ("png",):
            fig.savefig(os.path.join(self.folder, f"{name}.{ext}"), dpi=120)
            self.files.append(f"{name}.{ext}")
        plt.close(fig)
        return f"{name}.png"

    def csv(self, name, header, rows):
        with open(os.path.join(self.folder, name), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows([[fmt_csv(v) for v in row] for row in rows])
        self.files.append(name)
        return name

    def text(self, name, content):
        with open(os.path.join(self.folder, name), "w", encoding="utf-8") as f:
            f.write(content)
        self.files.append(name)
        return name


def fmt_csv(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return v


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def f2(x, digits=2):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def code_block(text):
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def reproduce(plan, section):
    cmds = "\n".join(f"    {c}" for c in plan.commands.get(section, []))
    return (f"Reproduce: `{plan.args.report_cmd}` (the runs: reused when finished), or by hand:\n\n"
            + cmds + "\n")


def focus(ax, it, *series, share=0.05, percentiles=(0, 100)):
    """Set the y range to where the curves are after their first steep descent (the first
    `share` of the iterations; as plot_loss.py does), so the figure shows where runs differ."""
    it = np.asarray(it)
    later = np.concatenate([np.asarray(s)[it >= share * it.max()] for s in series])
    low, high = np.percentile(later, percentiles)
    pad = 0.05 * (high - low) or 1.0
    ax.set_ylim(low - pad, high + pad)


def bpc_axis(ax, seq_length):
    """A right-hand axis in bits per character for a loss summed over seq_length characters."""
    k = seq_length * math.log(2)
    sec = ax.secondary_yaxis("right", functions=(lambda x: x / k, lambda b: b * k))
    sec.set_ylabel("bits per character")
    return sec


# ---------------------------------------------------------------------------
# 1. The exercise: three seeds
# ---------------------------------------------------------------------------

def exercise_section(plan, out, vocabulary):
    s = plan.s
    runs = {seed: plan.path("exercise", f"seed-{seed}") for seed in s["seeds"]}
    hp = m.load_checkpoint(os.path.join(runs[s["seeds"][0]], "checkpoint.npz"))["hparams"]
    T = hp["seq_length"]
    curves = {seed: loss_columns(run) for seed, run in runs.items()}

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (seed, (it, loss, smooth)) in enumerate(curves.items()):
        ax.plot(it, smooth, label=f"seed {seed}", linewidth=1.5, **STYLES[i % 4])
    ax.set(xlabel="iteration", ylabel=f"smoothed loss (sum over a {T}-character chunk, nats)",
           title=f"Vanilla RNN{', classic defaults' if hp['hidden_size'] == 100 else ''}: "
                 f"{len(curves)} seeds")
    ax.grid(True, alpha=0.3)
    ax.legend(title="run")
    focus(ax, curves[s["seeds"][0]][0], *(c[2] for c in curves.values()))
    bpc_axis(ax, T)
    overlay = out.figure(fig, "exercise-loss")
    singles = []
    for i, (seed, (it, loss, smooth)) in enumerate(curves.items()):
        fig, ax = plt.subplots(figsize=(8, 4.5))
        ax.plot(it, loss, color="0.75", linewidth=0.5, label="chunk loss (every logged iteration)")
        ax.plot(it, smooth, color="black", linewidth=1.5, label="smoothed loss")
        ax.set(xlabel="iteration", ylabel=f"loss (sum over a {T}-character chunk, nats)",
               title=f"Vanilla RNN, seed {seed}")
        ax.grid(True, alpha=0.3)
        ax.legend()
        focus(ax, it, loss, smooth, percentiles=(0.5, 99.5))  # the raw loss's rare spikes may go off
        bpc_axis(ax, T)
        singles.append(out.figure(fig, f"exercise-loss-seed-{seed}"))
    all_it = sorted(set().union(*(set(c[0].tolist()) for c in curves.values())))
    cols = {seed: dict(zip(c[0].tolist(), zip(c[1], c[2]))) for seed, c in curves.items()}
    rows = [[it] + [v for seed in curves for v in cols[seed].get(it, (float("nan"),) * 2)]
            for it in all_it]
    out.csv("exercise-loss.csv", ["iteration"] + [f"seed-{seed}-{k}" for seed in curves
                                                  for k in ("loss", "smooth_loss")], rows)

    table, finals, lows = [], [], []
    for seed, (it, loss, smooth) in curves.items():
        final, low, low_it = a.curve_summary(it, smooth)
        finals.append(final)
        lows.append(low)
        table.append([f"seed {seed}", int(it[-1]), final, float(a.bits_per_char(final, T)), low,
                      float(a.bits_per_char(low, T)), low_it])
    fm, fsd, fmin, fmax = a.spread(finals)
    lm, lsd, lmin, lmax = a.spread(lows)
    out.csv("exercise-seeds.csv", ["run", "last iteration", "final smoothed loss", "final bpc",
                                   "lowest smoothed loss", "lowest bpc", "iteration of lowest"],
            table + [["mean", "", fm, float(a.bits_per_char(fm, T)), lm,
                      float(a.bits_per_char(lm, T)), ""],
                     ["standard deviation", "", fsd, float(a.bits_per_char(fsd, T)), lsd,
                      float(a.bits_per_char(lsd, T)), ""]])
    md_rows = [[r[0], f"{r[2]:.2f} ({r[3]:.3f})", f"{r[4]:.2f} ({r[5]:.3f})", f"{r[6]:,}"] for r in table]
    md_rows.append(["mean ± sd", f"{fm:.2f} ± {fsd:.2f} ({a.bits_per_char(fm, T):.3f} ± "
                                 f"{a.bits_per_char(fsd, T):.3f})",
                    f"{lm:.2f} ± {lsd:.2f} ({a.bits_per_char(lm, T):.3f} ± "
                    f"{a.bits_per_char(lsd, T):.3f})", ""])
    md_rows.append(["range", f"{fmin:.2f} to {fmax:.2f}", f"{lmin:.2f} to {lmax:.2f}", ""])

    # favourite samples: the last training samples of each run, by their real words
    k = s["favourites_from"]
    samples = []
    for seed, run in runs.items():
        got = read_samples(os.path.join(run, "samples.txt"), hp["sample_length"])[-k:]
        samples += [(f"seed {seed}, iteration {it:,}", text) for it, text in got]
    ranked = a.rank_samples(samples, vocabulary)
    out.csv("favourite-samples.csv", ["sample", "share of words in the training text",
                                      "distinct known words", "words", "text"],
            [[n, sh, dk, nw, t] for n, t, sh, dk, nw in ranked])
    fav = "\n\n".join(f"**{n}**: {sh:.0%} of its {nw} words occur in the training text "
                      f"({dk} distinct)\n\n{code_block(t)}" for n, t, sh, dk, nw in ranked[:3])
    if not ranked:
        fav = "_No sample had 10 words or more._"

    settings = "classic defaults" if hp["hidden_size"] == 100 else "settings"
    images = "\n\n".join(f"![Run {i + 1}]({f})" for i, f in enumerate(singles))
    seeds_md = md_table(["run", "final smoothed loss (bpc)", "lowest smoothed loss (bpc)",
                         "iteration of lowest"], md_rows)
    page = f"""## 1. The exercise: three seeds of the vanilla RNN

{len(runs)} runs of {s['exercise_iters']:,} iterations of the vanilla RNN at the {settings}
(hidden size {hp['hidden_size']}, {T} characters per chunk, learning rate {hp['learning_rate']}),
seeds {', '.join(map(str, runs))}, on `{plan.args.text}`. The smoothed loss is a sum over a
{T}-character chunk (left axis); the right axis gives the same in bits per character.

![Smoothed loss of the three seeds]({overlay})

The three curves move together because every run reads the text in the same order: the bumps
are harder and easier stretches of the text, not noise of the seed. The y axis shows where the
runs are after their first steep descent (the first 5% of the iterations start above it, from
the uniform guess, `{T} * ln(vocabulary size)`).

{seeds_md}

Data: [exercise-loss.csv](exercise-loss.csv) (every logged row of each run),
[exercise-seeds.csv](exercise-seeds.csv) (this table). One figure per run:
{', '.join(f'[seed {seed}]({f})' for seed, f in zip(runs, singles))}
(the grey line is each logged iteration's own chunk loss).

{images}

**Three candidate favourite samples**, chosen from the last {k} training samples of each run
(every {hp['sample_every']} iterations, {hp['sample_length']} characters) by the share of their
words (runs of letters, lower-cased) that occur anywhere in the training text; ties go to more
distinct such words, and samples of fewer than 10 words are left out. The criterion rewards real
words, not grammar or sense: the choice is still yours. All candidates, scored:
[favourite-samples.csv](favourite-samples.csv).

{fav}

{reproduce(plan, 'exercise')}"""
    summary = {"final": (fm, fsd), "bpc": a.bits_per_char(fm, T)}
    return page, summary


# ---------------------------------------------------------------------------
# 2. Greedy vs multinomial
# ---------------------------------------------------------------------------

def decoding_section(plan, out, vocabulary):
    s = plan.s
    L = s["sample_length"]
    models = [(f"vanilla, seed {seed}", plan.path("exercise", f"seed-{seed}")) for seed in s["seeds"]]
    models += [(m.CELLS[cell], plan.path("cells", cell, f"seed-{s['cell_seeds'][0]}"))
               for cell in ("lstm", "gru")]
    rows, texts = [], []
    for name, run in models:
        state = m.load_checkpoint(os.path.join(run, "checkpoint.npz"))
        cell = m.cell_module(state["hparams"]["cell"])
        prime = PRIME if set(PRIME) <= set(state["chars"]) else None
        index = {c: i for i, c in enumerate(state["chars"])}
        for label, strategy, temperature in DECODINGS:
            prime_used, pieces = m.generate(state, prime, L, strategy, temperature, seed=1)
            generated = "".join(pieces)
            text, given = prime_used + generated, len(prime_used)
            loop = a.find_loop(generated)
            ws = a.words(generated)
            bits = a.self_bits_per_char(cell, state["params"], [index[c] for c in text], given)
            rows.append([name, label, loop[0] if loop else "", loop[1] if loop else "",
                         generated[loop[0]:loop[0] + loop[1]] if loop else "",
                         a.distinct_ngram_share(ws, 4), a.known_word_share(ws, vocabulary), bits])
            texts.append((name, label, text))
    out.csv("decoding.csv", ["model", "decoding", "loop starts at character", "loop period", "loop",
                             "share of distinct word 4-grams", "share of words in the training text",
                             "bits per character the model gives its own text"], rows)
    doc = [f"# Greedy vs multinomial: every generated text\n\nEach starts from the prime "
           f"{texts[0][2][:len(texts[0][2]) - L]!r} and a zero state; {L} generated characters; "
           f"multinomial draws with sampling seed 1.\n"]
    doc += [f"## {n}, {lab}\n\n{code_block(t)}\n" for n, lab, t in texts]
    out.text("decoding-samples.md", "\n".join(doc))
    md_rows = [[r[0], r[1], f"{r[2]} (period {r[3]})" if r[2] != "" else "none",
                "`" + r[4].replace("\n", "\\n").replace("|", "\\|").replace("`", "'") + "`" if r[4] else "",
                f2(r[5]), f2(r[6]), f2(r[7])] for r in rows]
    first = [t for n, lab, t in texts if n == models[0][0]]
    greedy_loops = [r for r in rows if r[1] == "greedy" and r[2] != ""]
    sampled_loops = [r for r in rows if r[1] != "greedy" and r[2] != ""]
    decoding_md = md_table(["model", "decoding", "loop starts at (period)", "the loop",
                            "distinct word 4-grams", "words in training text",
                            "bits/char, own text"], md_rows)
    first_ckpt = os.path.join(models[0][1], "checkpoint.npz")
    page = f"""## 2. Greedy vs multinomial decoding of the same models

Every trained model of this report generates {L} characters three ways from the same prime
and a zero state: greedy (the most probable character every time) and multinomial draws from
softmax(y / T) at temperatures 0.5 and 1.0. "Loop" is where the generated text becomes
periodic to its end (at least three repeats, 20 characters), with the period in characters;
distinct 4-grams are the share of word 4-grams that are not repeats; words are runs of letters,
lower-cased. The last column is how surprised the model is by its own text, -mean log2 p per
generated character: greedy text is made of the model's most likely characters, so it should
score lowest, and text drawn at T = 1.0 about as high as the model's own uncertainty, its
held-out bits per character (section 4).

{decoding_md}

{len(greedy_loops)} of the {len(models)} greedy texts fall into a loop, {len(sampled_loops)} of the
{2 * len(models)} multinomial ones. Greedy decoding is deterministic: once it produces a stretch
of text that leads back to its own beginning, it repeats it forever. Multinomial sampling keeps
drawing less likely characters, which breaks loops, at the price of misspelt words (more of them
at T = 1.0 than at 0.5). The texts of {models[0][0]} (all texts:
[decoding-samples.md](decoding-samples.md), the table: [decoding.csv](decoding.csv)):

**greedy**

{code_block(first[0])}

**multinomial, T = 0.5**

{code_block(first[1])}

**multinomial, T = 1.0**

{code_block(first[2])}

Reproduce: `{plan.args.report_cmd}` (this part: `analysis.find_loop`, `distinct_ngram_share`,
`known_word_share`, `self_bits_per_char` on `min_char_rnn.generate`), or one text by hand:

    python min_char_rnn.py --sample-from {first_ckpt} --strategy greedy --length {L} --prime "{PRIME}"
"""
    return page, {"greedy loops": len(greedy_loops), "models": len(models)}


# ---------------------------------------------------------------------------
# 3. Reloading the weights is not resuming
# ---------------------------------------------------------------------------

def trailing_mean(x, w):
    """Mean of the last w values at each point (fewer at the start): a curve that never looks ahead."""
    c = np.cumsum(np.insert(np.asarray(x, dtype=float), 0, 0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - w)
    return (c[idx] - c[lo]) / (idx - lo)


def restart_section(plan, out):
    s = plan.s
    n1, n2, S = s["stop_at"], s["after"], s["update_steps"]
    R = lambda *p: plan.path("restart", *p)  # noqa: E731
    unint, resumed, init = (loss_columns(R(k)) for k in ("uninterrupted", "resumed", "init-from"))
    stopped_state = m.load_checkpoint(R("stopped", "checkpoint.npz"))
    hp, lr = stopped_state["hparams"], stopped_state["hparams"]["learning_rate"]
    T = hp["seq_length"]
    before = min(n1, max(100, n2 // 4))
    w = 100 if n2 >= 400 else max(5, n2 // 4)  # the window of the means below
    it_u, loss_u, _ = unint
    it_r, loss_r, _ = resumed
    it_i, loss_i, _ = init
    it_i = it_i + n1  # the init-from run counts from 0: put it on the same axis
    keep_r = it_r >= n1

    # the same weights, frozen, on the chunks the init-from run reads first: text vs damage
    cell = m.cell_module(hp["cell"])
    _, data = m.build_vocab(plan.text)
    chunk = data[:w * T + 1]
    frozen = cell.heldout_loss(chunk[:-1, None], chunk[1:, None], stopped_state["params"]) / w

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    near = 30 if n2 >= 100 else n2 // 2
    for ax, lo, hi, span in ((ax1, n1 - near, n1 + near, 1), (ax2, n1 - before, n1 + n2, 25)):
        # trailing means over each run's own history: the resumed run's includes the rows
        # before the restart (it is the same run), the init-from run's starts at its start
        su, sr, si = ((it >= lo) & (it < hi) for it in (it_u, it_r, it_i))
        sr &= keep_r
        ax.plot(it_u[su], trailing_mean(loss_u, span)[su], label="uninterrupted", linewidth=1.2,
                **STYLES[0])
        ax.plot(it_r[sr], trailing_mean(loss_r, span)[sr], label="stopped, then --resume",
                color=STYLES[1]["color"], linestyle="none", marker="o",
                markersize=3 if span == 1 else 2, markevery=1 if span == 1 else 25)
        ax.plot(it_i[si], trailing_mean(loss_i, span)[si], label="stopped, then --init-from",
                linewidth=1.5, **STYLES[2])
        ax.axvline(n1, color="0.3", linewidth=0.8)
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("iteration (init-from: its own count + the restart iteration)")
    ax1.set(ylabel=f"chunk loss (sum over {T} characters, nats)",
            title=f"each iteration's chunk loss, restart at {n1:,}")
    ax2.set_title("mean of the last 25 chunk losses of each run")
    ax1.legend(fontsize=8)
    loss_fig = out.figure(fig, "restart-loss")
    byit = {int(i): [int(i), float(l), "", ""] for i, l in zip(it_u, loss_u) if n1 - before <= i < n1 + n2}
    for i, l in zip(it_r[keep_r], loss_r[keep_r]):
        byit.setdefault(int(i), [int(i), "", "", ""])[2] = float(l)
    for i, l in zip(it_i, loss_i):
        byit.setdefault(int(i), [int(i), "", "", ""])[3] = float(l)
    out.csv("restart-loss.csv", ["iteration", "uninterrupted", "resumed", "init-from (iteration + restart)"],
            [v for _, v in sorted(byit.items())])

    jump_rows = []
    before_mean = a.window_mean(it_u, loss_u, n1 - w, n1)
    for name, it, loss in (("uninterrupted", it_u, loss_u), ("--resume", it_r, loss_r),
                           ("--init-from", it_i, loss_i)):
        first10, first_w = a.window_mean(it, loss, n1, n1 + 10), a.window_mean(it, loss, n1, n1 + w)
        last_w = a.window_mean(it, loss, n1 + n2 - w, n1 + n2)
        jump_rows.append([name, before_mean, first10, first_w, first_w - before_mean, last_w])
    out.csv("restart-jump.csv", ["run", f"mean chunk loss, {w} iterations before", "first 10 after",
                                 f"first {w} after", "jump", f"last {w} of the window"], jump_rows)

    # the parameters after each of the first updates
    theta0 = stopped_state["params"]
    snaps = {kind: [theta0] + [m.load_checkpoint(plan.snapshot(kind, j))["params"]
                               for j in range(1, S + 1)] for kind in ("resumed", "init-from")}
    per_param = {k: a.update_sizes(v) for k, v in snaps.items()}
    overall = {k: a.mean_abs_update(v) for k, v in snaps.items()}
    moved = {k: a.moved_share(v[0], v[1], lr / 2) for k, v in snaps.items()}
    end_u = m.load_checkpoint(R("uninterrupted", "checkpoint.npz"))["params"]
    end_r = m.load_checkpoint(R("resumed", "checkpoint.npz"))["params"]
    same = max(float(np.abs(end_u[q] - end_r[q]).max()) for q in end_u)

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
    upd_fig = out.figure(fig, "restart-updates")
    out.csv("restart-updates.csv", ["update", "run", "all parameters", *a.PARAM_NAMES],
            [[j + 1, kind, float(overall[kind][j]), *map(float, per_param[kind][j])]
             for kind in ("resumed", "init-from") for j in range(S)])

    up_rows = [[q, f"{per_param['resumed'][0][i]:.2e}", f"{per_param['init-from'][0][i]:.3f}",
                f"{per_param['init-from'][0][i] / per_param['resumed'][0][i]:.0f}x"]
               for i, q in enumerate(a.PARAM_NAMES)]
    jr = {r[0]: r for r in jump_rows}
    jump_md = md_table(["run", f"mean chunk loss, {w} before", "first 10 after", f"first {w} after",
                        "jump", f"last {w} of the window"],
                       [[r[0], *(f2(v) for v in r[1:])] for r in jump_rows])
    page = f"""## 3. Why reloading the weights is not resuming

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
    summary = {"jump init": jr["--init-from"][4], "jump resume": jr["--resume"][4],
               "first update": (overall["resumed"][0], overall["init-from"][0]), "same": same}
    return page, summary


# ---------------------------------------------------------------------------
# 4. Vanilla vs LSTM vs GRU
# ---------------------------------------------------------------------------

def cells_section(plan, out):
    s = plan.s
    seed = s["cell_seeds"][0]
    cells = ("rnn", "lstm", "gru")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    table, curves = [], {}
    for i, cell in enumerate(cells):
        for sd in s["cell_seeds"]:
            run = plan.path("cells", cell, f"seed-{sd}")
            v = read_csv(os.path.join(run, "val.csv"))
            it, bpc = np.array(v["iteration"], dtype=int), np.array(v["val_bpc"], dtype=float)
            curves[(cell, sd)] = (it, bpc)
            label = m.CELLS[cell] + (f", seed {sd}" if len(s["cell_seeds"]) > 1 else "")
            ax.plot(it, bpc, marker=MARKERS[i], markersize=3, label=label, **STYLES[i])
            state = m.load_checkpoint(os.path.join(run, "checkpoint.npz"))
            n_params = sum(p.size for p in state["params"].values())
            rate, secs = training_speed(plan.path("logs", f"cells-{cell}-seed-{sd}.log"))
            _, _, smooth = loss_columns(run)
            table.append([m.CELLS[cell], sd, n_params, float(bpc[-1]), float(bpc.min()),
                          float(a.bits_per_char(smooth[-1], state["hparams"]["seq_length"])),
                          rate, secs])
    hp = state["hparams"]
    ax.set(xlabel="iteration", ylabel="held-out bits per character",
           title=f"Held-out text ({hp['val_frac']:.0%} of it, never trained on)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if all(len(b) > 1 for _, b in curves.values()):
        top = max(b[1:].max() for _, b in curves.values())
        ax.set_ylim(top=top * 1.05 + 0.05)  # the untrained point (log2 of the vocabulary) off the top
    fig_name = out.figure(fig, "cells-heldout")
    its = sorted(set().union(*(set(c[0].tolist()) for c in curves.values())))
    cols = {k: dict(zip(c[0].tolist(), c[1].tolist())) for k, c in curves.items()}
    out.csv("cells-heldout.csv", ["iteration"] + [f"{c}-seed-{sd}" for c, sd in curves],
            [[i] + [cols[k].get(i, float("nan")) for k in curves] for i in its])
    out.csv("cells.csv", ["cell", "seed", "parameters", "final held-out bpc", "lowest held-out bpc",
                          "final smoothed training bpc", "iterations per second", "training seconds"],
            table)
    md = [[r[0], f"{r[2]:,}", f"{r[3]:.3f}", f"{r[4]:.3f}", f"{r[5]:.3f}", f2(r[6], 0)] for r in table]
    best = min(table, key=lambda r: r[3])
    cells_md = md_table(["cell", "parameters", "final held-out bpc", "lowest held-out bpc",
                         "final training bpc (smoothed)", "iterations per second"], md)
    page = f"""## 4. Vanilla RNN vs LSTM vs GRU

The three cells with the same hidden size ({hp['hidden_size']}), optimizer (Adagrad, learning rate
{hp['learning_rate']}), chunk length ({hp['seq_length']}), seed and data, {s['cell_iters']:,}
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
    return page, {"final": {r[0]: r[3] for r in table}}


# ---------------------------------------------------------------------------
# 5. Vanishing gradients
# ---------------------------------------------------------------------------

def gradient_section(plan, out):
    s = plan.s
    K, B, W = s["grad_k"], s["grad_streams"], s["grad_warmup"]
    seed = s["cell_seeds"][0]
    results = {}  # (cell, "trained" | "initial") -> geometric mean norm per k
    c_part = {}
    for cell in ("rnn", "lstm", "gru"):
        state = m.load_checkpoint(os.path.join(plan.path("cells", cell, f"seed-{seed}"), "checkpoint.npz"))
        hp = state["hparams"]
        H, V = hp["hidden_size"], len(state["chars"])
        _, data = m.build_vocab(plan.text)
        train_part, _ = m.split_heldout(data, hp["val_frac"])
        # B positions spread evenly over the training text, each with K + W characters before it
        ends = np.linspace(K + W, len(train_part) - 2, B).astype(int)
        inputs, targets = a.windows(train_part, ends, K + W + 1)
        initial = m.cell_module(cell).init_params(V, H, np.random.default_rng(hp["seed"]))
        for when, params in (("trained", state["params"]), ("initial", initial)):
            g = a.state_gradients(cell, params, inputs, targets, K)
            results[(cell, when)] = a.geometric_mean(np.linalg.norm(g, axis=2), axis=1)
            if cell == "lstm":
                c_part[when] = a.geometric_mean(np.linalg.norm(g[:, :, H:], axis=2), axis=1)
            del g
    T = hp["seq_length"]
    k = np.arange(K + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, when in zip(axes, ("trained", "initial")):
        for i, cell in enumerate(("rnn", "lstm", "gru")):
            ax.semilogy(k, results[(cell, when)], label=m.CELLS[cell] + " (h and c)" * (cell == "lstm"),
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
    low = min(float(v[1:].min()) for v in results.values())
    high = max(float(v.max()) for v in results.values())
    axes[0].set_ylim(max(low / 3, 1e-30), high * 3)
    axes[0].legend(fontsize=8)
    fig_name = out.figure(fig, "gradient-flow")
    keys = [(c, w) for w in ("trained", "initial") for c in ("rnn", "lstm", "gru")]
    out.csv("gradient-flow.csv", ["k"] + [f"{c}-{w}" for c, w in keys] + ["lstm-c-trained", "lstm-c-initial"],
            [[int(j)] + [float(results[key][j]) for key in keys]
             + [float(c_part["trained"][j]), float(c_part["initial"][j])] for j in k])
    rows, md = [], []
    for cell, when in keys:
        g = results[(cell, when)]
        near, far = a.decay_per_step(k, g, 0, T), a.decay_per_step(k, g, T, K)
        rows.append([m.CELLS[cell], when, float(g[0]), float(g[T] / g[0]), float(g[K] / g[0]), near, far])
        md.append([m.CELLS[cell], when, f"{g[0]:.2f}", f"{g[T] / g[0]:.1e}", f"{g[K] / g[0]:.1e}",
                   f"{near:.3f}", f"{far:.3f}"])
    out.csv("gradient-table.csv", ["cell", "weights", "norm at k=0", f"ratio k={T}/k=0",
                                   f"ratio k={K}/k=0", f"factor per step, k=0..{T}",
                                   f"factor per step, k={T}..{K}"], rows)
    tr = {r[0]: r for r in rows if r[1] == "trained"}
    ini = {r[0]: r for r in rows if r[1] == "initial"}
    explain = slope_text(tr, ini, T, K)
    grad_md = md_table(["cell", "weights", "norm at k=0", f"k={T} / k=0", f"k={K} / k=0",
                        f"per step, k=0..{T}", f"per step, k={T}..{K}"], md)
    page = f"""## 5. Vanishing gradients, made visible

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
    return page, {k: (r[5], r[6], r[3]) for k, r in ((f"{r[0]} {r[1]}", r) for r in rows)}


def efold(f):
    """Steps over which a per-step factor f shrinks the gradient by e."""
    return 1 / -math.log(f) if 0 < f < 1 else float("inf")


def slope_text(tr, ini, T, K):
    """What the slopes say, in words, with this report's numbers (rows of the gradient table:
    cell, weights, norm at 0, ratio at T, ratio at K, factor per step up to T, beyond T)."""
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
    gated = []
    for name, row, path in (("LSTM", lstm, "c_t = f * c_(t-1) + i * g"),
                            ("GRU", gru, "h_t = (1 - u) * n + u * h_(t-1)")):
        rel = "more slowly than" if row[6] > van[6] else "no more slowly than"
        gated.append(f"the {name}'s falls by {row[6]:.3f} per step beyond {T} ({row[4]:.0e} at "
                     f"k = {K}), {rel} the vanilla RNN's {van[6]:.3f}")
    out.append("Of the gated cells, " + "; ".join(gated) + ".")
    if lstm[6] > van[6] or gru[6] > van[6]:
        out.append(f"A gated cell carries its state from step to step through a gated sum "
                   f"(c_t = f * c_(t-1) + i * g in the LSTM, h_t = (1 - u) * n + u * h_(t-1) in "
                   f"the GRU) rather than through a squashing matrix product alone, so where a "
                   f"forget gate f or an update gate u stays near 1 the gradient passes almost "
                   f"unchanged. For such a cell the truncation at {T} steps, more than the "
                   f"decay, is what cuts off the longer dependencies: a longer --seq-length "
                   f"would let it learn from more of the past.")
    out.append(f"At initialisation the picture is the design of each cell: the vanilla RNN's "
               f"weights of size 0.01 make f = {ini['vanilla RNN'][5]:.3f}, so the gradient is "
               f"gone after a few steps until training grows Whh; the LSTM starts at "
               f"{ini['LSTM'][5]:.2f}, about sigmoid(1) = 0.73, its forget gate's initial bias; "
               f"the GRU at {ini['GRU'][5]:.2f}, about its update gate's initial 0.5. Within a "
               f"chunk the loss at position t reaches back only t steps anyway, "
               f"{T / 2 - 0.5:.0f} on average.")
    paragraphs = (" ".join(out[:2]), " ".join(out[2:-1]), out[-1])
    return "\n\n".join(textwrap.fill(p, 96, break_on_hyphens=False) for p in paragraphs)


# ---------------------------------------------------------------------------
# 6. Clipping
# ---------------------------------------------------------------------------

def clipping_section(plan, out):
    s = plan.s
    runs = [(f"{m.CELLS[c]} (section 4)", plan.path("cells", c, f"seed-{s['cell_seeds'][0]}"))
            for c in ("rnn", "lstm", "gru")]
    runs += [(f"vanilla, seed {sd} (section 1)", plan.path("exercise", f"seed-{sd}")) for sd in s["seeds"]]
    runs += [("vanilla, seed 1, every iteration (section 3, uninterrupted)",
              plan.path("restart", "uninterrupted"))]
    rows = []
    for name, run in runs:
        cols = read_csv(os.path.join(run, "loss.csv"))
        if "clipped" not in cols:
            rows.append([name, len(cols["iteration"])] + [float("nan")] * 6)
            continue
        sh = a.clip_shares(cols["clipped"])
        rows.append([name, len(cols["clipped"]), sh["any"], *(sh[q] for q in a.PARAM_NAMES)])
    out.csv("clipping.csv", ["run", "logged iterations", "any", *a.PARAM_NAMES], rows)
    md = [[r[0], f"{r[1]:,}", *(("n/a" if math.isnan(v) else f"{v:.1%}") for v in r[2:])] for r in rows]
    every = m.load_checkpoint(os.path.join(runs[0][1], "checkpoint.npz"))["hparams"]["log_every"]
    said = []
    for r in rows[:3]:  # the three cells
        if not math.isnan(r[2]):
            top = max(range(len(a.PARAM_NAMES)), key=lambda i: r[3 + i])
            said.append(f"{r[0].split(' (')[0]}: {r[2]:.1%} of the logged iterations, most often "
                        f"in {a.PARAM_NAMES[top]} ({r[3 + top]:.1%})" if r[2] > 0
                        else f"{r[0].split(' (')[0]}: never")
    most = ("Clipping bites in " + "; ".join(said) + ". Where it bites, it changes only the "
            "entries beyond ±5; at every other iteration the gradient is used as computed."
            if said else "These runs were trained before loss.csv logged clipping.")
    page = f"""## 6. Exploding gradients: how often clipping bites

Every gradient entry is clipped to [-5, 5] before the Adagrad step. The share of logged
iterations (every {every}th and the last; every one in the run of section 3) at which at least
one entry of each parameter's gradient was clipped, from the `clipped` column of each run's
loss.csv:

{md_table(['run', 'logged iterations', 'any', *a.PARAM_NAMES], md)}

{most}

Data: [clipping.csv](clipping.csv). The runs are those of sections 1, 3 and 4.
"""
    return page, {r[0]: r[2] for r in rows}


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------

REPORT_TITLE = "# Report: the exercise's questions, answered by measurement"


def replaceable(folder):
    """Whether report.py may replace folder whole: it is new, empty, or an earlier report
    (its README.md begins with the report's title), never a folder of anything else."""
    if not os.path.lexists(folder):
        return True
    if not os.path.isdir(folder) or os.path.islink(folder):
        return False
    if not os.listdir(folder):
        return True
    try:
        with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
            return f.readline().rstrip("\n") == REPORT_TITLE
    except (OSError, UnicodeDecodeError):
        return False


def replace_folder(new, target):
    """Put the folder new in target's place, whatever target held."""
    old = target.rstrip(os.sep) + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(target):
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def build_parser():
    ap = argparse.ArgumentParser(
        description="Train the runs the report needs (reusing finished ones), measure, and write "
                    "the report page with its figures and data into SAMPLES_DIR, from scratch.")
    ap.add_argument("--quick", action="store_true",
                    help="small iteration counts: about a minute, for a first look (same as --scale quick)")
    ap.add_argument("--scale", choices=tuple(SCALES),
                    help="full (default), quick, or tiny (seconds, on a small text: the test suite's)")
    ap.add_argument("--pdf", action="store_true", help="write every figure as PDF too")
    ap.add_argument("--text", default="input.txt", help="training text (default input.txt)")
    ap.add_argument("--runs-dir", metavar="DIR",
                    help="where the runs go (default runs/report/<scale>)")
    ap.add_argument("--samples-dir", metavar="DIR", default="samples",
                    help="the report's folder, replaced as a whole (default samples)")
    ap.add_argument("--jobs", type=m.number(int, 1, False, "training runs at a time"),
                    default=min(2, os.cpu_count() or 1),
                    help="training runs at a time (default 2, or 1 on one core)")
    return ap


def main(argv=None):
    ap = build_parser()
    ap.error = lambda message: sys.exit(print(f"report.py: error: {message}", file=sys.stderr) or 2)
    args = ap.parse_args(argv)
    if args.quick and args.scale not in (None, "quick"):
        print("report.py: error: --quick and --scale disagree", file=sys.stderr)
        return 2
    args.scale = "quick" if args.quick else (args.scale or "full")
    args.runs_dir = args.runs_dir or os.path.join("runs", "report", args.scale)
    # the command that makes this report again, as the page shows it
    cmd = ["python report.py"]
    if args.scale != "full":
        cmd.append("--quick" if args.scale == "quick" else f"--scale {args.scale}")
    for option, value, default in (("--text", args.text, "input.txt"),
                                   ("--runs-dir", args.runs_dir, os.path.join("runs", "report", args.scale)),
                                   ("--samples-dir", args.samples_dir, "samples")):
        if value != default:
            cmd.append(f"{option} {value}")
    args.report_cmd = " ".join(cmd + (["--pdf"] if args.pdf else []))
    scale = SCALES[args.scale]
    t0 = time.perf_counter()
    samples = os.path.abspath(args.samples_dir)
    if not replaceable(samples):
        print(f"report.py: error: --samples-dir '{args.samples_dir}' holds files this report did not "
              f"write, and it replaces the whole folder: give a new or empty folder", file=sys.stderr)
        return 2
    try:
        plan = Plan(args, scale)
        say(t0, f"report ({args.scale}): runs in {args.runs_dir}, up to {args.jobs} at a time; "
                f"Ctrl-C stops them all, each saving its checkpoint, and the next report.py continues")
        n_reused, n_jobs = train_all(plan, t0)
        t_train = time.perf_counter() - t0
        say(t0, "training done; measuring")
        global plt
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: F811 (a module global, set here)

        tmp = samples.rstrip(os.sep) + ".new"
        shutil.rmtree(tmp, ignore_errors=True)
        out = Output(tmp, args.pdf)
        vocabulary = set(a.words(plan.text))
        pages, summaries = [], {}
        for name, section in (("exercise", lambda: exercise_section(plan, out, vocabulary)),
                              ("decoding", lambda: decoding_section(plan, out, vocabulary)),
                              ("restart", lambda: restart_section(plan, out)),
                              ("cells", lambda: cells_section(plan, out)),
                              ("gradients", lambda: gradient_section(plan, out)),
                              ("clipping", lambda: clipping_section(plan, out))):
            page, summaries[name] = section()
            pages.append(page)
            say(t0, f"{name}: done")
        wall = time.perf_counter() - t0
        reuse_note = (f"; {n_reused} of the {n_jobs} training jobs had finished in an earlier "
                      f"invocation and were reused" if n_reused else "")
        head = f"""{REPORT_TITLE}

Generated by `{args.report_cmd}` on
{datetime.date.today().isoformat()} in {wall / 60:.1f} minutes of wall time, {t_train / 60:.1f} of
them training ({args.jobs} runs at a time on {os.cpu_count()} cores, {cpu_name()}; Python
{platform.python_version()}, NumPy {np.__version__}){reuse_note}. Every number, figure and table
below comes from the runs in `{args.runs_dir}`; the CSV file beside each figure holds its data.

1. [The exercise: three seeds](#1-the-exercise-three-seeds-of-the-vanilla-rnn)
2. [Greedy vs multinomial decoding](#2-greedy-vs-multinomial-decoding-of-the-same-models)
3. [Why reloading the weights is not resuming](#3-why-reloading-the-weights-is-not-resuming)
4. [Vanilla RNN vs LSTM vs GRU](#4-vanilla-rnn-vs-lstm-vs-gru)
5. [Vanishing gradients](#5-vanishing-gradients-made-visible)
6. [How often clipping bites](#6-exploding-gradients-how-often-clipping-bites)
"""
        out.text("README.md", head + "\n" + "\n".join(pages))
        replace_folder(tmp, samples)
    except m.UserError as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return 1
    except ReportError as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader of the progress lines went away (`| head -1`): stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as e:  # a full disk, a runs or samples folder that is a file, ...
        where = f" '{e.filename}'" if e.filename else ""
        print(f"report.py: error: cannot write{where}: {e.strerror or e}; the runs keep their "
              f"checkpoints: run the same command again once the cause is gone", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"report.py: stopped; every run saved its checkpoint: run the same command again to "
              f"continue", file=sys.stderr)
        return 130
    ex, rs, ce, gr = (summaries[k] for k in ("exercise", "restart", "cells", "gradients"))
    print(f"\nreport written to {args.samples_dir}/README.md ({len(out.files)} files) in "
          f"{m.format_seconds(wall)} ({m.format_seconds(t_train)} training)")
    print(f"  exercise: final smoothed loss {ex['final'][0]:.2f} ± {ex['final'][1]:.2f} "
          f"({ex['bpc']:.3f} bits per character), mean ± sd of {len(scale['seeds'])} seeds")
    print("  held-out bits per character: " + ", ".join(f"{c} {v:.3f}" for c, v in ce["final"].items()))
    print("  gradient per step back (trained, k up to / beyond the truncation): "
          + ", ".join(f"{c} {v[0]:.3f} / {v[1]:.3f}" for c, v in gr.items() if c.endswith("trained")))
    print(f"  restart: chunk-loss jump {rs['jump init']:+.2f} after --init-from, "
          f"{rs['jump resume']:+.2f} after --resume; first update {rs['first update'][1]:.3f} vs "
          f"{rs['first update'][0]:.1e} per entry")
    return 0


if __name__ == "__main__":
    sys.exit(main())
