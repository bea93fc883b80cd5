"""The training loop's one interface to the world: Run. The loop (min_char_rnn.train) keeps its
state in one dict, state, and hands it whole to Run, which logs, evaluates, checkpoints, prints
the progress line and watches the stop signals.

One training iteration in three places: the math and the loop (min_char_rnn.py), this
interface, and the files it writes (charrnn/logs.py, charrnn/checkpoint.py).
"""
import math
import os
import time
from typing import NamedTuple

import numpy as np

from charrnn.checkpoint import (
    RUN_FILES,
    Diverged,
    diverged_advice,
    drop_diverged,
    kept_checkpoint,
    save_checkpoint,
)
from charrnn.logs import LOSS_CSV_HEADER, VAL_CSV_HEADER, RunLog, bits_per_char, loss_row, run_files, val_row
from charrnn.model import CELLS
from charrnn.options import spec_of
from charrnn.runfolder import checkpoint_path
from charrnn.system import StopSignals, UserError, format_seconds
from charrnn.text import heldout_blocks
from min_char_rnn import heldout_loss


class Settings(NamedTuple):
    """What a run needs of the command line besides the state: none of it changes results."""
    out_dir: str
    checkpoint_every: int
    print_interval: float  # seconds between console lines of one kind
    resumed: bool
    resume_command: str  # the exact command that continues this run, for the stop message


def progress(n, smooth_loss, seq_length, iters, n0, t0, now, streams=None):
    """The classic 'iter n, loss: x' line (x is the smoothed loss), per character, with the
    progress towards iters and the speed since iteration n0 at time t0. streams: (B streams,
    characters of the text) of a deep run, whose line also gives the epoch (passes over the
    text) and the characters trained on per second."""
    line = (f"iter {n}, loss: {smooth_loss:f} (smoothed, a sum over {seq_length} characters: "
            f"{bits_per_char(smooth_loss, seq_length):.3f} bits per character)")
    done = f"{n / iters:.0%} of {iters}" if iters else "no --iters limit"
    if streams:
        done += f", epoch {n * seq_length * streams[0] / streams[1]:.2f}"
    if n > n0 and now > t0:
        rate = (n - n0) / (now - t0)
        left = f", {format_seconds((iters - n) / rate)} left" if iters else ""
        chars = f", {rate * seq_length * streams[0]:.0f} chars/s" if streams else ""
        return f"{line} | {done}, {rate:.0f} it/s{chars}{left}"
    return f"{line} | {done}"


class Run:
    """What the training loop needs of the world, and nothing else: the text (data, and the
    held-out part val or None), the options (hparams, the model's math), the state to start
    from, and, while in a with block, the logs, the held-out evaluation, the checkpoints and the
    stop signals (Ctrl-C, SIGTERM: the loop ends after the iteration it is in, and the run is
    saved).

    state is the checkpoint's dict (charrnn.checkpoint.new_state): the loop reads it at the
    start and hands it back, current, to evaluate, checkpoint and finish."""

    def __init__(self, state, data, val, settings):
        self.state, self.data, self.val, self.settings = state, data, val, settings
        self.out_dir = settings.out_dir
        self.hparams, self.iters = state["hparams"], state["iters"]
        self.spec = spec_of(self.hparams, len(state["chars"]))
        self.cell = self.spec.math()
        self.param_names = list(self.spec.param_shapes())  # the order of lossFun's gradients
        state["loss_csv_closing"] = state["val_csv_closing"] = ""  # a finished run's, cut on resume
        self.checkpoint_every = settings.checkpoint_every
        self.ckpt = checkpoint_path(self.out_dir)
        self.n_start = self.saved_n = state["n"]
        self.last_print = {"loss": -math.inf, "sample": -math.inf, "val": -math.inf}
        # a smoothed loss above twice a uniform guess's, at two logged rows in a row, is divergence
        self.diverged_above = 2 * self.hparams["seq_length"] * math.log(len(state["chars"]))
        self.rows_above = 0

    def __enter__(self):
        self.stop = StopSignals().__enter__()
        try:
            self.logs = {name: RunLog(os.path.join(self.out_dir, name), self.state[RUN_FILES[name][0]])
                         for name in run_files(self.hparams)}
        except UserError:
            self.stop.__exit__()
            raise
        loss_log = self.logs["loss.csv"]
        if loss_log.tell() == 0:
            loss_log.write(LOSS_CSV_HEADER.encode() + b"\n")
        with open(loss_log.path, "rb") as f:  # a run begun before the last two columns keeps three
            self.columns = f.readline().count(b",") + 1
        if "val.csv" in self.logs and self.logs["val.csv"].tell() == 0:
            self.logs["val.csv"].write(VAL_CSV_HEADER.encode() + b"\n")
        held = f" (+ {len(self.val)} held out)" if self.val is not None else ""
        hp = self.hparams
        deep = (f", {hp['num_layers']} layers, {hp['batch_size']} streams, {hp['optimizer']}, {hp['dtype']}"
                if self.spec.deep else "")
        print(f"{CELLS[hp['cell']]}, hidden size {hp['hidden_size']}{deep}; data has "
              f"{len(self.data)} characters{held}, {len(self.state['chars'])} unique; writing to "
              f"{self.out_dir}" + (f"; resuming at iteration {self.n_start}" if self.n_start else ""),
              flush=True)
        self.t_start = time.perf_counter()
        if self.val is not None and self.n_start == 0 and not self.settings.resumed:
            self.evaluate(self.state)  # the untrained model: about log2(vocabulary size)
        return self

    def __exit__(self, exc_type, exc, tb):
        self.elapsed = time.perf_counter() - self.t_start
        self.stop.__exit__()
        for log in self.logs.values():
            log.close(failing=exc_type is not None)
        if isinstance(exc, Diverged):  # say what is left, and that going on as before cannot help
            raise Diverged(f"{exc}; {diverged_advice(self.ckpt)}") from None
        if isinstance(exc, UserError):  # a write failed: say what is left to go on from
            raise UserError(f"{exc}; {kept_checkpoint(self.ckpt, self.settings.resume_command)}") from None

    def due(self, what, now):
        """Whether a line of this kind may be printed now (at most one per --print-interval)."""
        if now - self.last_print[what] >= self.settings.print_interval:
            self.last_print[what] = now
            return True
        return False

    def goes_on(self, n):
        """Whether the loop does iteration n: within --iters, and no stop signal came."""
        return (self.iters == 0 or n < self.iters) and not self.stop.received

    def log_sample(self, n, ixs):
        """A training sample, to samples.txt and (now and then) to the console."""
        txt = "".join(self.state["chars"][ix] for ix in ixs)
        self.logs["samples.txt"].write(f"--- iteration {n} ---\n{txt}\n".encode("utf-8"))
        if self.due("sample", time.perf_counter()):
            print(f"----\n {txt} \n----", flush=True)

    def loss_line(self, n, loss, smooth_loss, grads):
        """A row of loss.csv: the chunk loss, the smoothed loss, and which gradients were clipped
        (entries of exactly +-5 count too: unclipped, a measure-zero case)."""
        clipped = [k for k, g in zip(self.param_names, grads) if np.abs(g).max() >= 5]
        return loss_row(n, loss, smooth_loss, self.hparams["seq_length"], clipped, self.columns)

    def log_loss(self, n, loss, smooth_loss, grads):
        """A row of loss.csv, a progress line now and then, and the check for divergence."""
        self.logs["loss.csv"].write(self.loss_line(n, loss, smooth_loss, grads))
        now = time.perf_counter()
        if self.due("loss", now):
            streams = (self.hparams["batch_size"], len(self.data)) if self.spec.deep else None
            print(progress(n, smooth_loss, self.hparams["seq_length"], self.iters, self.n_start,
                           self.t_start, now, streams), flush=True)
        self.rows_above = self.rows_above + 1 if smooth_loss > self.diverged_above else 0
        if self.rows_above >= 2:
            raise Diverged(f"training diverged: the smoothed loss is {smooth_loss:.4g} at iteration {n}, "
                           f"more than twice a uniform guess's ({self.diverged_above / 2:.1f})")

    def val_line(self, state):
        """A row of val.csv: the held-out bits per character of the current weights. Every
        stream starts from the state the training carries now (a state of the model's own
        regime: from a zero state, a trained model read mid-play can fall into a saturated
        state and stay there for thousands of characters), and reads EVAL_WARMUP characters
        before its part, unscored: so 100 streams side by side score the text as one does."""
        carried = state["hprev"].reshape(-1, self.spec.state_size())[0]  # (the first stream's, deep)
        nats = heldout_loss(heldout_blocks(self.val), state["params"], self.cell, carried)
        bpc = bits_per_char(nats, len(self.val) - 1)
        if self.due("val", time.perf_counter()):
            print(f"iter {state['n']}, held-out: {bpc:.4f} bits per character", flush=True)
        return val_row(state["n"], bpc)

    def evaluate(self, state):
        self.logs["val.csv"].write(self.val_line(state))

    def checkpoint(self, state):
        """Save the whole state, with how far each log reached (see charrnn.checkpoint); at the
        run's last iteration, finish saves it instead, with the closing rows."""
        if state["n"] != self.iters:
            self.save(state)

    def save(self, state):
        for name, log in self.logs.items():
            size_field, sha_field, _ = RUN_FILES[name]
            state[size_field], state[sha_field] = log.tell(), log.sha256.hexdigest()
        save_checkpoint(self.ckpt, state)
        self.saved_n = state["n"]

    def diverged(self, n, loss):
        """The loss is not finite: stop, keeping the last checkpoint whose loss was finite."""
        drop_diverged(self.ckpt, self.saved_n, n)
        raise Diverged(f"the loss became {loss} at iteration {n}: training diverged")

    def finish(self, state, loss, grads):
        """The last checkpoint. A run that reached its --iters here gets closing rows, the figures
        of its end where the periodic ones missed it: recorded in the checkpoint and written after
        it, so that --resume with a larger --iters cuts them off (and goes on exactly as a run
        that never stopped), and a run killed before they were written gets them back."""
        n, smooth_loss = state["n"], state["smooth_loss"]
        if smooth_loss > self.diverged_above:  # a run too short for two logged rows above it
            raise Diverged(f"training diverged: the smoothed loss is {smooth_loss:.4g} at the end, "
                           f"more than twice a uniform guess's ({self.diverged_above / 2:.1f})")
        closing = {}
        if n == self.iters and n > self.n_start:
            if (n - 1) % self.hparams["log_every"]:
                closing["loss.csv"] = self.loss_line(n - 1, loss, smooth_loss, grads)
            if self.val is not None and n % self.hparams["eval_every"]:
                closing["val.csv"] = self.val_line(state)
        state["loss_csv_closing"] = closing.get("loss.csv", b"").decode()
        state["val_csv_closing"] = closing.get("val.csv", b"").decode()
        self.save(state)
        for name, row in closing.items():
            self.logs[name].write(row)
