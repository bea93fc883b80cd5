"""Child processes of the trainer, at most a few at a time: the one pool behind --seeds and
report.py.

A job is a named sequence of trainer commands (argument lists for min_char_rnn.py), run one
after another, once the jobs it waits for have finished. Each child tells its outcome in a
small JSON file (the trainer's --outcome option), never through what it prints:

    {"status": "trained" | "finished before" | "stopped" | "failed",
     "exit_code": 0, "message": "...", "iteration": 100000, "iterations": 100000, "seconds": 21.2}
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from charrnn.checkpoint import checkpoint_iteration
from charrnn.logs import last_row
from charrnn.runfolder import checkpoint_path
from charrnn.system import STOP_SIGNALS, StopSignals, one_blas_thread, prepare_child


SETTLE = 3.0  # seconds after a command starts before its speed is measured
TRAINER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "min_char_rnn.py")


class Job:
    """commands: an iterable of argument lists, read lazily, so that a job can choose its next
    command once the one before has run. after: names of jobs that must finish first.
    log: a file that receives every child's output (None: a temporary file, dropped)."""

    def __init__(self, name, commands, after=(), log=None):
        self.name, self.commands, self.after, self.log = name, iter(commands), tuple(after), log
        self.outcomes = []  # one per command that ran
        self.proc = self.argv = None

    def option(self, name, default=None):
        """The value of an option of the running command (for example --out)."""
        argv = self.argv or []
        return argv[argv.index(name) + 1] if name in argv else default

    def progress(self, now):
        """(iteration reached, --iters, iterations per second) of the running command, from its
        loss.csv; the rate is None until the first row after the start, and for the first
        SETTLE seconds (a resumed run's loss.csv may still hold rows past its checkpoint, which
        it cuts off once it has read its text)."""
        row = last_row(os.path.join(self.option("--out", ""), "loss.csv"))
        it = int(row["iteration"]) if row else None
        settled = now - self.t0 >= SETTLE
        rate = (it - self.n0) / (now - self.t0) if it is not None and it > self.n0 and settled else None
        return it, int(self.option("--iters", 0)), rate

    def start_next(self, env):
        """Start the next command; False when there is none left."""
        self.argv = next(self.commands, None)
        if self.argv is None:
            return False
        self.outcome_file = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
        self.output = open(self.log, "a") if self.log else tempfile.TemporaryFile("w+")
        if self.log:
            self.output.write(f"$ python min_char_rnn.py {' '.join(self.argv)}\n")
            self.output.flush()
        # where the command starts, for its speed: a resumed run at its checkpoint's iteration
        ckpt = checkpoint_path(self.option("--out", ""))
        self.n0 = checkpoint_iteration(ckpt) if "--resume" in self.argv and os.path.exists(ckpt) else 0
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, TRAINER, *self.argv, "--outcome", self.outcome_file],
                                     stdout=self.output, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=prepare_child)
        return True

    def finish(self):
        """The outcome of the command that just ended (read from its file, or made from its exit
        status where it could not write one: killed, or a crash)."""
        code = self.proc.returncode
        try:
            with open(self.outcome_file) as f:
                outcome = json.load(f)
        except (OSError, ValueError):
            outcome = None
        finally:
            os.remove(self.outcome_file)
        if isinstance(outcome, dict) and outcome.get("status") in ("trained", "finished before"):
            outcome["exit_code"] = code  # its work was done and saved, whatever ended it after
        elif not isinstance(outcome, dict) or outcome.get("exit_code") != code:
            stopped = -code in STOP_SIGNALS or code - 128 in STOP_SIGNALS
            if code < 0 and stopped:
                message = f"stopped by {signal.Signals(-code).name} as it started"
            else:
                message = self.last_output_line() or f"exit code {code}"
            outcome = {"status": "stopped" if stopped else "failed", "exit_code": code,
                       "message": message, "iteration": None, "iterations": 0, "seconds": 0.0}
        self.output.close()
        self.proc = None
        self.outcomes.append(outcome)
        return outcome

    def last_output_line(self):
        try:
            if self.log:
                with open(self.log) as f:
                    lines = f.read().splitlines()
            else:
                self.output.seek(0)
                lines = self.output.read().splitlines()
        except OSError:
            return ""
        lines = [line for line in lines if line.strip()]
        return lines[-1] if lines else ""


class Pool:
    """Run every job's commands, at most max_running children at a time (see run).

    on_event(kind, job) is told: "begin" once the stop signals are in the pool's hands (job is
    None: a headline printed then is never cut off by Ctrl-C), "start" when a command starts
    (job.argv), "end" when it ended
    (job.outcomes[-1]), "done" when a job has no command left, and "status" every
    status_every seconds (job is None then; self.running holds the running jobs). A job whose
    command did not end "trained" or "finished before" gets no further command.
    """

    def __init__(self, jobs, max_running, on_event, status_every=10.0):
        self.pending, self.running, self.done = list(jobs), [], set()
        self.max_running, self.on_event, self.status_every = max_running, on_event, status_every
        self.env = one_blas_thread(os.environ)

    def forward(self, signum):
        """A stop signal goes on to every running child, which saves and ends."""
        for job in self.running:
            job.proc.send_signal(signum)

    def run(self, signals=STOP_SIGNALS):
        """Run until every job is done, failed or stopped. After a stop signal no new command
        starts; an exception from on_event stops every child too. Returns the stop signal
        received, or None."""
        with StopSignals(self.forward, signals) as self.stop:
            try:
                self.on_event("begin", None)
                last_status = time.perf_counter()
                while self.running or (self.pending and not self.stop.received):
                    for job in [j for j in self.pending if set(j.after) <= self.done]:
                        if len(self.running) >= self.max_running or self.stop.received:
                            break
                        self.pending.remove(job)
                        self.start_or_finish(job)
                    time.sleep(0.1)
                    for job in [j for j in self.running if j.proc.poll() is not None]:
                        self.running.remove(job)
                        job.finish()
                        self.on_event("end", job)
                        ended_well = job.outcomes[-1]["status"] in ("trained", "finished before")
                        if ended_well and not self.stop.received:
                            self.start_or_finish(job)
                    now = time.perf_counter()
                    if now - last_status >= self.status_every and self.running:
                        last_status = now
                        self.on_event("status", None)
            finally:
                for job in self.running:  # only when an error ends the loop: the runs save and stop
                    job.proc.send_signal(signal.SIGTERM)
                    job.proc.wait()
                    job.finish()
        return self.stop.first

    def start_or_finish(self, job):
        """Start the job's next command, or mark the job done when it has none left."""
        if job.start_next(self.env):
            self.running.append(job)
            if self.stop.received:  # the signal came while the child was being started
                job.proc.send_signal(self.stop.first)
            self.on_event("start", job)
        else:
            self.done.add(job.name)
            self.on_event("done", job)
