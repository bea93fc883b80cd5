"""The runs of one report: what to train, in which order, and the commands that train them.

Every run is `python min_char_rnn.py ...` into a folder of the runs folder (--runs-dir):

    exercise/seed-N        the vanilla RNN at the classic defaults, one per seed
    cells/<cell>/seed-N    the vanilla RNN, LSTM and GRU with 10% of the text held out, and
                           cells/rnn-big/seed-N, a vanilla RNN with the LSTM's parameter count
    restart/uninterrupted  seed 1, every iteration logged, never stopped
    restart/stopped        the same, stopped at stop_at iterations
    restart/resumed        the stopped run continued with --resume (in a copy)
    restart/init-from      a new run from the stopped run's weights (--init-from)
    restart/reset-memory   the stopped run (a copy) with only its Adagrad memory set to zero,
    restart/reset-state    only its hidden state, or
    restart/reset-pointer  only its data pointer, then --resume
    restart/steps/         the parameters after each of the first update_steps updates of both
    logs/<job>.log, .json  each job's printed output, and its commands' outcomes

A finished run is reused, a run that stopped short is continued with --resume, and a run
trained with another text or other options is refused: the user removes it.
"""
import functools
import os
import shutil

import analysis as a
from charrnn.checkpoint import load_checkpoint, reset_fields
from charrnn.pool import Job
from charrnn.system import UserError
from charrnn.text import read_text, text_sha256
from report_sections import bptt_runs


# How much each scale trains. full: the report as shipped; quick: a first look; tiny: the test
# suite's end-to-end run on a small text (seconds). Per section: exercise_* and seeds (1), the
# greedy texts' length and primes (2), stop_at, after and update_steps (3), cell_* (4: every cell
# and a vanilla RNN as large as the LSTM, cell_seeds seeds each), grad_* (5), recall_* (7: lengths
# L, truncations, seeds, hidden size, learning rate, characters seen per run; recall_more: longer
# training at one L, or None), trunc_* (8).
SCALES = {
    "full": dict(exercise_iters=100000, seeds=(1, 2, 3), sample_length=600, favourites_from=100,
                 greedy_length=2000, primes=5,
                 stop_at=20000, after=2000, update_steps=10,
                 cell_iters=50000, cell_seeds=(1, 2, 3), eval_every=2000, hidden_size=None,
                 grad_streams=256, grad_k=120, grad_warmup=50,
                 recall_L=(5, 10, 20, 40, 80, 120), recall_seq=(25, 250), recall_seeds=(1, 2),
                 recall_hidden=32, recall_lr=0.1, recall_chars=400_000,
                 recall_more=dict(L=40, seq=(25, 50), chars=3_200_000, seeds=(1, 2)),
                 trunc_cells=("rnn", "lstm"), trunc_seq=(5, 10, 25, 50, 100, 200), trunc_chars=600_000,
                 trunc_eval_chars=60_000, status_every=10.0),
    "quick": dict(exercise_iters=5000, seeds=(1, 2, 3), sample_length=300, favourites_from=10,
                  greedy_length=2000, primes=5,
                  stop_at=2000, after=500, update_steps=5,
                  cell_iters=2000, cell_seeds=(1, 2), eval_every=1000, hidden_size=None,
                  grad_streams=64, grad_k=100, grad_warmup=25,
                  recall_L=(5, 20, 120), recall_seq=(25, 250), recall_seeds=(1,),
                  recall_hidden=32, recall_lr=0.1, recall_chars=80_000, recall_more=None,
                  trunc_cells=("rnn",), trunc_seq=(5, 10, 25, 50, 100, 200), trunc_chars=50_000,
                  trunc_eval_chars=25_000, status_every=5.0),
    "tiny": dict(exercise_iters=300, seeds=(1, 2, 3), sample_length=120, favourites_from=3,
                 greedy_length=300, primes=5,
                 stop_at=200, after=60, update_steps=3,
                 cell_iters=300, cell_seeds=(1, 2), eval_every=100, hidden_size=16,
                 grad_streams=16, grad_k=100, grad_warmup=5,
                 recall_L=(5, 10), recall_seq=(5, 25), recall_seeds=(1,),
                 recall_hidden=8, recall_lr=0.1, recall_chars=1000,
                 recall_more=dict(L=10, seq=(5, 25), chars=2000, seeds=(1,)),
                 trunc_cells=("rnn",), trunc_seq=(5, 10, 25, 50, 100, 200), trunc_chars=2000,
                 trunc_eval_chars=1000, status_every=2.0),
}
SHOWN = "python min_char_rnn.py"  # how a command starts on the page and in the progress lines
RESTART_KINDS = ("uninterrupted", "stopped", "resumed", "init-from")
# Section 3's ablation: the stopped run, copied, one field of its checkpoint reset, then --resume.
ABLATIONS = {"reset-memory": "the Adagrad memory", "reset-state": "the hidden state",
             "reset-pointer": "the data pointer"}
# Section 4's runs: the three cells, and a vanilla RNN with about the LSTM's parameter count.
CELL_RUNS = ("rnn", "rnn-big", "lstm", "gru")


def checkpoint_n(out):
    """The iteration a run directory's checkpoint is at (0 when there is none)."""
    ckpt = os.path.join(out, "checkpoint.npz")
    return load_checkpoint(ckpt)["n"] if os.path.exists(ckpt) else 0


class TrainingJob(Job):
    """A job of the shared pool that knows what it trains, for the estimate of the time left.

    runs: (out, iters, start) for each run it brings to `iters` iterations, `start` being
    where a run that is not there yet begins. cell: the cell it trains (its speed).
    """

    def __init__(self, name, cell, runs, commands, after=(), log=None):
        super().__init__(name, commands, after, log)
        self.cell, self.runs = cell, runs

    def left(self):
        """Iterations still to train."""
        return sum(max(0, iters - (checkpoint_n(out) if os.path.exists(os.path.join(out, "checkpoint.npz"))
                                   else start)) for out, iters, start in self.runs)


class Plan:
    """The runs of one report: what to train, in which order, and the commands used."""

    def __init__(self, args, scale):
        self.args, self.s = args, scale
        self.root = args.runs_dir
        self.text = read_text(args.text)
        if len(set(self.text)) < 2:  # nothing to predict: every analysis would be empty
            raise UserError(f"'{args.text}' has only one distinct character: give a real text")
        self.sha = text_sha256(self.text)
        self.commands = {}  # section -> the trainer commands it ran (or would run), for the page

    @functools.cached_property
    def vocabulary(self):
        """The words of the training text, to tell real words in a generated text."""
        return set(a.words(self.text))

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def log_path(self, job_name, ext):
        """Where a job's printed output (ext "log") and its outcomes (ext "json") are kept."""
        return self.path("logs", f"{job_name.replace('/', '-')}.{ext}")

    def snapshot(self, kind, j):
        """The checkpoint a restart run (kind resumed or init-from) had after its j-th update."""
        return self.path("restart", "steps", f"{kind}-{j}.npz")

    def options(self, **given):
        opts = dict(given)
        if self.s["hidden_size"]:
            opts.setdefault("hidden_size", self.s["hidden_size"])
        return opts

    def command(self, out, iters, opts, init_from=None, resume=False):
        """The trainer's arguments (without the script) that bring the run in out to iters."""
        cmd = [self.args.text]
        if resume:
            cmd += ["--resume"]
        else:
            for k, v in opts.items():
                cmd += [f"--{k.replace('_', '-')}", str(v)]
            if init_from:
                cmd += ["--init-from", init_from]
        return cmd + ["--iters", str(iters), "--out", out]

    def shown(self, *command_args, **kwargs):
        """A command as the page shows it: python min_char_rnn.py ..."""
        return " ".join([SHOWN, *self.command(*command_args, **kwargs)])

    def check(self, out, opts):
        """A run already in `out` must be this report's: same text, same options."""
        ckpt = os.path.join(out, "checkpoint.npz")
        if os.path.exists(ckpt):
            state = load_checkpoint(ckpt)
            differ = [k for k, v in opts.items() if state["hparams"][k] != v]
            if state["text_sha256"] != self.sha or differ:
                why = "another text" if state["text_sha256"] != self.sha else f"another --{differ[0]}"
                raise UserError(f"'{out}' holds a run with {why} than this report's: remove "
                                f"'{self.root}' (or give another --runs-dir) and run again")

    def train_to(self, out, iters, opts, init_from=None):
        """Yield the command that brings the run in `out` to `iters` iterations, if any:
        a new run, or --resume of one that stopped short. A finished run yields nothing."""
        if not os.path.exists(os.path.join(out, "checkpoint.npz")):
            yield self.command(out, iters, opts, init_from)
            return
        self.check(out, opts)
        if checkpoint_n(out) < iters:
            yield self.command(out, iters, opts, resume=True)

    def job(self, name, cell, runs, commands, after=()):
        return TrainingJob(name, cell, runs, commands, after, log=self.log_path(name, "log"))

    def jobs(self):
        """The report's jobs, longest first."""
        return self.cell_jobs() + self.exercise_jobs() + self.restart_jobs() + self.bptt_jobs()

    def bptt_jobs(self):
        """The runs of the long-range dependency and truncation sections (issue 17)."""
        return bptt_runs.truncation_jobs(self) + bptt_runs.long_range_jobs(self)

    @functools.cached_property
    def big_hidden(self):
        """The hidden size of a vanilla RNN with about the LSTM's parameter count."""
        return a.matching_hidden_size(len(set(self.text)), self.s["hidden_size"] or 100)

    def cell_options(self, run, seed):
        """The options of a run of section 4 (run: one of CELL_RUNS)."""
        cell = "rnn" if run == "rnn-big" else run
        opts = self.options(cell=cell, seed=seed, val_frac=0.1, eval_every=self.s["eval_every"])
        if run == "rnn-big":
            opts["hidden_size"] = self.big_hidden
        return opts

    def cell_jobs(self):
        """Section 4's runs: each cell with a tenth of the text held out, slowest first."""
        jobs, s = [], self.s
        for run in ("lstm", "gru", "rnn-big", "rnn"):
            for seed in s["cell_seeds"]:
                out, opts = self.path("cells", run, f"seed-{seed}"), self.cell_options(run, seed)
                self.check(out, opts)
                self.note("cells", self.shown(out, s["cell_iters"], opts))
                jobs.append(self.job(f"cells/{run}/seed-{seed}", opts["cell"], [(out, s["cell_iters"], 0)],
                                     self.train_to(out, s["cell_iters"], opts)))
        return jobs

    def exercise_jobs(self):
        """Section 1's runs: the vanilla RNN, one per seed."""
        jobs, iters = [], self.s["exercise_iters"]
        for seed in self.s["seeds"]:
            out, opts = self.path("exercise", f"seed-{seed}"), self.options(seed=seed)
            self.check(out, opts)
            self.note("exercise", self.shown(out, iters, opts))
            jobs.append(self.job(f"exercise/seed-{seed}", "rnn", [(out, iters, 0)],
                                 self.train_to(out, iters, opts)))
        return jobs

    def note(self, section, shown):
        if shown not in self.commands.setdefault(section, []):
            self.commands[section].append(shown)

    def restart_jobs(self):
        """Section 3's runs: one run stopped, then continued two ways, beside it never stopped."""
        n1, n2 = self.s["stop_at"], self.s["after"]
        opts = self.options(seed=1, log_every=1)
        self.commands["restart"] = self.restart_commands(opts)
        for kind in (*RESTART_KINDS, *ABLATIONS):
            self.check(self.path("restart", kind), opts)
        unint, stopped = self.path("restart", "uninterrupted"), self.path("restart", "stopped")
        return [self.job("restart/uninterrupted", "rnn", [(unint, n1 + n2, 0)],
                         self.train_to(unint, n1 + n2, opts)),
                self.job("restart/stopped", "rnn", [(stopped, n1, 0)], self.train_to(stopped, n1, opts)),
                self.job("restart/resumed", "rnn", [(self.path("restart", "resumed"), n1 + n2, n1)],
                         self.restart_chain("resumed", opts), after=("restart/stopped",)),
                self.job("restart/init-from", "rnn", [(self.path("restart", "init-from"), n2, 0)],
                         self.restart_chain("init-from", opts), after=("restart/stopped",))] + [
                self.job(f"restart/{kind}", "rnn", [(self.path("restart", kind), n1 + n2, n1)],
                         self.ablation_chain(kind, opts), after=("restart/stopped",)) for kind in ABLATIONS]

    def restart_commands(self, opts):
        """What the restart jobs run, as shell commands for the page."""
        n1, n2, S = self.s["stop_at"], self.s["after"], self.s["update_steps"]
        R = self.path("restart")
        resumed, init, steps = (os.path.join(R, k) for k in ("resumed", "init-from", "steps"))
        stopped = os.path.join(R, "stopped")
        return [self.shown(os.path.join(R, "uninterrupted"), n1 + n2, opts),
                self.shown(stopped, n1, opts),
                f"cp -r {stopped} {resumed}; mkdir -p {steps}",
                f"for j in $(seq 1 {S}); do {self.shown(resumed, f'$(({n1} + j))', opts, resume=True)}; "
                f"cp {os.path.join(resumed, 'checkpoint.npz')} {steps}/resumed-$j.npz; done",
                self.shown(resumed, n1 + n2, opts, resume=True),
                self.shown(init, 1, opts, os.path.join(stopped, "checkpoint.npz")),
                f"cp {os.path.join(init, 'checkpoint.npz')} {steps}/init-from-1.npz",
                f"for j in $(seq 2 {S}); do {self.shown(init, '$j', opts, resume=True)}; "
                f"cp {os.path.join(init, 'checkpoint.npz')} {steps}/init-from-$j.npz; done",
                self.shown(init, n2, opts, resume=True)] + [
                line for kind in ABLATIONS for line in (
                    f"cp -r {stopped} {os.path.join(R, kind)}",
                    f"python -c \"{reset_code(os.path.join(R, kind, 'checkpoint.npz'), kind)}\"",
                    self.shown(os.path.join(R, kind), n1 + 1, opts, resume=True),
                    f"cp {os.path.join(R, kind, 'checkpoint.npz')} {steps}/{kind}-1.npz",
                    self.shown(os.path.join(R, kind), n1 + n2, opts, resume=True))]

    def restart_chain(self, kind, opts):
        """Continue the stopped run (kind resumed: --resume; init-from: --init-from its
        checkpoint), one iteration at a time for the first update_steps iterations, keeping
        each checkpoint (the parameters after every update), then on to the end."""
        n1, n2, steps = self.s["stop_at"], self.s["after"], self.s["update_steps"]
        stopped, out = self.path("restart", "stopped"), self.path("restart", kind)
        base = n1 if kind == "resumed" else 0  # the continuation's iteration numbers start here
        if kind == "resumed" and not os.path.exists(os.path.join(out, "checkpoint.npz")):
            copy_folder(stopped, out)  # continued in a copy: the checkpoint stays for --init-from
        os.makedirs(self.path("restart", "steps"), exist_ok=True)
        init_from = os.path.join(stopped, "checkpoint.npz") if kind == "init-from" else None
        for j in range(1, steps + 1):
            snap = self.snapshot(kind, j)
            if os.path.exists(snap):
                continue
            if checkpoint_n(out) > base + j:
                raise UserError(f"'{snap}' is missing and '{out}' is already past it: remove "
                                f"'{self.path('restart')}' and run again")
            yield from self.train_to(out, base + j, opts, init_from)
            shutil.copyfile(os.path.join(out, "checkpoint.npz"), snap + ".tmp")
            os.replace(snap + ".tmp", snap)
        yield from self.train_to(out, base + n2, opts, init_from)


    def ablation_chain(self, kind, opts):
        """The stopped run copied, one field of its checkpoint reset (kind: one of ABLATIONS),
        then --resume: one iteration (its parameters kept, the first update), then to the end."""
        n1, n2 = self.s["stop_at"], self.s["after"]
        out, snap = self.path("restart", kind), self.snapshot(kind, 1)
        if not os.path.exists(os.path.join(out, "checkpoint.npz")):
            copy_folder(self.path("restart", "stopped"), out, kind)
        os.makedirs(self.path("restart", "steps"), exist_ok=True)
        if not os.path.exists(snap):
            if checkpoint_n(out) > n1 + 1:
                raise UserError(f"'{snap}' is missing and '{out}' is already past it: remove "
                                f"'{self.path('restart')}' and run again")
            yield from self.train_to(out, n1 + 1, opts)
            shutil.copyfile(os.path.join(out, "checkpoint.npz"), snap + ".tmp")
            os.replace(snap + ".tmp", snap)
        yield from self.train_to(out, n1 + n2, opts)


RESET = {"reset-memory": ["mem"], "reset-state": ["hprev"], "reset-pointer": ["p"]}  # what each
# ablation sets to zero, by charrnn.checkpoint.reset_fields's names


def reset_code(path, kind):
    """The Python line that sets an ablation's part of a checkpoint to zero, nothing else."""
    return (f"from charrnn.checkpoint import reset_fields; reset_fields('{path}', {RESET[kind]})")


def copy_folder(src, dst, reset=None):
    """Copy the folder src to dst, which appears whole or not at all."""
    tmp = dst + ".copying"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    if reset:
        reset_fields(os.path.join(tmp, "checkpoint.npz"), RESET[reset])
    os.replace(tmp, dst)
