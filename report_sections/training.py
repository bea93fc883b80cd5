"""Training the report's runs: the plan's jobs in the shared pool (charrnn.pool), at most
--jobs children at a time, with a line for each command started and, every few seconds, how
far each run is and how much training is left.

Each command's outcome (how many iterations it trained, in how many seconds) is kept as JSON
beside the job's log, logs/<job>.json, so the speed of a run trained by an earlier
invocation is still known: training_speed sums them.
"""
import json
import os
import signal
import time

from charrnn.options import HPARAM_DEFAULTS
from charrnn.pool import Pool
from charrnn.system import UserError, format_seconds


# Guesses of the training speed (iterations per second, hidden size 100, one core) for the
# first estimate of the time left; replaced by the measured speed as soon as there is one.
SPEED_GUESS = {"rnn": 4000.0, "lstm": 700.0, "gru": 850.0}
NEWS = 50  # a command that trains this many iterations or fewer (a restart step) is not shown


def clock(t0):
    s = int(time.perf_counter() - t0)
    return f"{s // 60}:{s % 60:02d}"


def say(t0, msg):
    print(f"[{clock(t0)}] {msg}", flush=True)


def read_outcomes(path):
    """The outcomes of a job's commands so far, kept in path (none when there is no file)."""
    try:
        with open(path, encoding="utf-8") as f:
            outcomes = json.load(f)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise UserError(f"'{path}' cannot be read as a list of outcomes ({e}): remove it") from None
    return outcomes if isinstance(outcomes, list) else []


def keep_outcome(path, outcome):
    """Add a command's outcome to the job's file (written whole, then put in place)."""
    outcomes = read_outcomes(path) + [outcome]
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(outcomes, f, indent=1)
    os.replace(path + ".tmp", path)


def training_speed(path):
    """(iterations per second, seconds) over all the commands of a job whose outcomes are kept
    in path: total iterations over total seconds (nan, nan when none is known)."""
    outcomes = read_outcomes(path)
    iters = sum(o.get("iterations") or 0 for o in outcomes)
    secs = sum(o.get("seconds") or 0.0 for o in outcomes)
    if not outcomes:
        return float("nan"), float("nan")
    return (iters / secs if secs > 0 else float("nan")), secs


class Training:
    """The pool of the plan's jobs, and what it tells: commands started, progress, failures."""

    def __init__(self, plan, t0):
        self.plan, self.t0 = plan, t0
        hidden = plan.s["hidden_size"] or HPARAM_DEFAULTS["hidden_size"]
        self.guess = {c: v * (100 / hidden) ** 2 for c, v in SPEED_GUESS.items()}  # cost grows as H^2
        self.measured = {}  # cell -> iterations per second seen
        self.reused = 0  # jobs that had nothing left to do
        self.pool = Pool(plan.jobs(), plan.args.jobs, self.on_event, status_every=plan.s["status_every"])

    def run(self):
        """Train everything; returns (jobs that had nothing left to do, all jobs). A stop signal
        (each run saves its checkpoint) ends it with KeyboardInterrupt."""
        os.makedirs(self.plan.path("logs"), exist_ok=True)
        if self.pool.run(signals=(signal.SIGINT, signal.SIGTERM)) is not None:
            raise KeyboardInterrupt
        return self.reused, len(self.pool.done)

    def on_event(self, kind, job):
        if kind == "start":
            if int(job.option("--iters")) - job.n0 > NEWS:
                say(self.t0, f"{job.name}: python min_char_rnn.py {' '.join(job.argv)}")
        elif kind == "end":
            self.ended(job)
        elif kind == "done":
            self.reused += not job.outcomes
            say(self.t0, f"{job.name}: finished" if job.outcomes else f"{job.name}: finished before, reused")
        elif kind == "status":
            self.status()

    def ended(self, job):
        """Keep the outcome of the command that ended; a failure ends the report."""
        outcome = job.outcomes[-1]
        keep_outcome(self.plan.log_path(job.name, "json"), outcome)
        if outcome["status"] not in ("trained", "finished before") and not self.pool.stop.received:
            raise UserError(f"{job.name} failed (exit code {outcome['exit_code']}): "
                            f"{outcome['message']} (log: {job.log})")

    def status(self):
        """One line: each running command's progress and speed, and the training time left."""
        now, parts = time.perf_counter(), []
        for job in self.pool.running:
            it, iters, rate = job.progress(now)
            if rate is None:
                parts.append(f"{job.name}: starting")
                continue
            if iters - job.n0 > NEWS:  # a restart step's one iteration is mostly start-up
                self.measured[speed_key(job)] = rate
            parts.append(f"{job.name}: iteration {it} of {iters}, {rate:.0f} it/s, "
                         f"{format_seconds((iters - it) / rate)} left")
        # all the work left, at the speeds seen, shared by the cores
        work = [j.left() / self.measured.get(speed_key(j), self.guess[j.cell])
                for j in self.pool.pending + self.pool.running]
        left = max(max(work, default=0), sum(work) / self.plan.args.jobs)
        say(self.t0, "; ".join(parts) + f" | training: about {format_seconds(left)} left")


def speed_key(job):
    """What a job's speed is measured for: its runs' kind (the job's name without the seed),
    whose settings (cell, hidden size, truncation) the other seeds share."""
    return job.name.split("/seed-")[0]


PARTS = ("exercise", "restart", "cells", "long-range", "truncation")  # job names start with these


def seconds_by_part(plan):
    """Seconds the runs of each part of the report trained, by their own clocks (the outcomes
    kept in the runs folder's logs, all commands of all jobs, earlier invocations included)."""
    logs = plan.path("logs")
    names = sorted(n for n in os.listdir(logs) if n.endswith(".json")) if os.path.isdir(logs) else []
    out = dict.fromkeys(PARTS, 0.0)
    for name in names:
        part = next((p for p in PARTS if name.startswith(p + "-")), None)
        if part:
            out[part] += sum(o.get("seconds") or 0.0 for o in read_outcomes(os.path.join(logs, name)))
    return out
