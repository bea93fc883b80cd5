"""The run folder: one writer at a time, preparing a run (new, resumed or already finished),
and the small interface the training loop uses to log, evaluate, checkpoint and stop."""
import atexit
import contextlib
import fcntl
import math
import os
import time
import zipfile

import numpy as np

from charrnn.cells import CELLS, cell_module, training_bytes
from charrnn.checkpoint import (
    RUN_FILES,
    Diverged,
    diverged_checkpoint_path,
    load_checkpoint,
    new_state,
    previous_checkpoint_path,
    save_checkpoint,
)
from charrnn.logs import (
    LOSS_CSV_HEADER,
    RUN_FILE_STARTS,
    VAL_CSV_HEADER,
    RunLog,
    bits_per_char,
    loss_row,
    prefix_sha256,
    run_summary,
)
from charrnn.options import HPARAM_DEFAULTS, ITERS_DEFAULT, given_hparams, seed_of
from charrnn.system import StopSignals, UserError, check_memory, format_seconds, write_error
from charrnn.text import heldout_streams, index_text, read_text, split_heldout, text_sha256
from min_char_rnn import PARAM_NAMES, build_vocab, heldout_loss


LOCK_FILE = "run.lock"  # in every run directory: whoever holds its flock is the run's one writer
# What save_checkpoint writes on its way and a kill can leave behind: nobody reads them, and
# the owner of the folder clears them.
HALF_DONE = ("checkpoint.npz.tmp", "checkpoint.previous.npz.tmp", ".write-test")


class RunFinished(Exception):
    """The run asked for is already done: its summary is printed, nothing is touched, exit 0."""


def own_run_dir(out_dir, what="training this run"):
    """Make this process the one writer of out_dir, for as long as it lives.

    An exclusive flock on out_dir/run.lock, which holds the owner's PID so that a refused
    process can name it. The kernel drops the lock when its process ends, however it ends
    (kill -9 too), so nothing is left to clean up before the run is resumed.
    """
    try:
        os.makedirs(out_dir, exist_ok=True)
        fd = os.open(os.path.join(out_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise UserError(f"cannot write to output directory '{out_dir}': {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        who = f"process {holder}" if holder.isdigit() else "another process"
        raise UserError(f"'{out_dir}' is in use: {who} is {what} "
                        f"(one run directory, one writer); wait for it to end or stop it") from None
    except OSError as e:  # a file system without locks: one writer cannot be promised there
        os.close(fd)
        raise UserError(f"cannot lock '{os.path.join(out_dir, LOCK_FILE)}': {e.strerror}") from None
    with contextlib.suppress(OSError):  # the PID only names the owner: a full disk may keep it out
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    atexit.register(forget_owner, fd)
    for name in HALF_DONE:  # the owner clears what a writer killed mid-way left
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(out_dir, name))
    try:  # the lock file may be old: check that new files can still be made here
        probe = os.path.join(out_dir, ".write-test")
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as e:
        raise UserError(f"cannot write to output directory '{out_dir}': {e.strerror}") from None


def forget_owner(fd):
    """On the way out: the lock goes with the process; the PID is emptied, so a refused command
    leaves the directory as it was."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)


def run_files(hparams):
    """The log files of a run, by name: val.csv only where there is a held-out part."""
    return [name for name in RUN_FILES if name != "val.csv" or hparams["val_frac"] > 0]


def check_run_files(out_dir, state):
    """--resume: each log file must begin with exactly the bytes the checkpoint recorded (their
    number and, from format 3, their SHA-256); what came after is cut off when the run opens it."""
    for name in run_files(state["hparams"]):
        path, (size_field, sha_field, _) = os.path.join(out_dir, name), RUN_FILES[name]
        size, want = state[size_field], state[sha_field]
        if size and not (os.path.isfile(path) and os.path.getsize(path) >= size):
            raise UserError(f"--resume: '{path}' is missing or shorter than the checkpoint "
                            f"records ({size} bytes)")
        try:
            same = want is None or prefix_sha256(path, size).hexdigest() == want
        except OSError as e:
            raise UserError(f"--resume: cannot read '{path}': {e.strerror}") from None
        if not same:
            raise UserError(f"--resume: the first {size} bytes of '{path}' differ from what the "
                            f"checkpoint recorded (edited or re-saved since?); restore the file "
                            f"or start a new run in another --out")


def discard_dead_logs(out_dir):
    """Log files in a directory without a checkpoint are a run that died before its first one:
    it cannot be resumed, and this process owns the directory, so they go and the new run
    starts them afresh (never appending to another run's rows)."""
    for name, start in RUN_FILE_STARTS.items():
        path = os.path.join(out_dir, name)
        if not os.path.lexists(path):
            continue
        try:
            with open(path, "rb") as f:
                head = f.read(len(start))
        except OSError as e:
            raise UserError(f"cannot read '{path}': {e.strerror}") from None
        if head != start[:len(head)]:
            raise UserError(f"'{path}' is not a log of a run: move it, or choose another --out")
        try:
            os.remove(path)
        except OSError as e:
            raise write_error(path, e) from None


def check_training_memory(hp, vocab_size, runs=1):
    """Refuse models too large for this machine's memory: runs of them at once (--seeds
    trains --jobs runs side by side)."""
    need = runs * training_bytes(hp["cell"], vocab_size, hp["hidden_size"], hp["seq_length"])
    what = (f"{runs} runs at once of " if runs > 1 else "") + (
        f"a {CELLS[hp['cell']]} with hidden size {hp['hidden_size']}, {vocab_size} characters and "
        f"seq_length {hp['seq_length']} " + ("need" if runs > 1 else "needs"))
    check_memory(need, what, "choose a smaller --hidden-size or --seq-length"
                 + (" or fewer --jobs" if runs > 1 else ""))


def out_dir_of(args):
    """--out, or runs/seed-<seed>."""
    return args.out or os.path.join("runs", f"seed-{seed_of(args)}")


def existing_run(args, text, out_dir):
    """The state of the run already in out_dir, to --resume, or RunFinished, or a UserError
    that says what to do instead."""
    if not args.resume:
        own_run_dir(out_dir)
    state = load_checkpoint(os.path.join(out_dir, "checkpoint.npz"))
    index_text(text, state["chars"], f"the run in '{out_dir}'")
    if state["text_sha256"] != text_sha256(text):
        raise UserError(f"the run in '{out_dir}' was trained on a different text (same characters, "
                        f"other content): give its text, or choose another --out")
    n, hp = state["n"], state["hparams"]
    differ = [f"--{k.replace('_', '-')} {hp[k]}, not {v}"
              for k, v in given_hparams(args).items() if v != hp[k]]
    if args.resume and differ:
        raise UserError(f"--resume: the run in '{out_dir}' has {differ[0]}; drop the option, or "
                        f"start a new run (without --resume) in another --out")
    iters = target_iters(args, state)
    if iters and n >= iters and (args.resume or not differ):
        complete_closing_rows(out_dir, state)  # a run killed after its last checkpoint gets them now
        summary = run_summary(out_dir, hp["seq_length"])
        if args.resume:
            raise RunFinished(f"--resume: the run in '{out_dir}' has done its {n} iterations, so --iters "
                              f"{iters} leaves 0 to do (give a larger --iters to train on); "
                              f"its last figures: {summary}")
        raise RunFinished(f"'{out_dir}' already holds this run, finished: {summary}. "
                          f"Nothing to do (--resume with a larger --iters trains on)")
    if not args.resume and differ:
        raise UserError(f"'{out_dir}' already holds a run with {differ[0]}: choose another --out "
                        f"(or drop the option and use --resume to continue that run)")
    if not args.resume:
        raise UserError(f"'{out_dir}' already holds a run stopped after {n} iterations: continue it "
                        f"with --resume, or choose another --out")
    check_run_files(out_dir, state)
    return state


def target_iters(args, state=None):
    """The iterations a run goes to: --iters where given; else, resumed, the number it was
    started with; else the default."""
    if args.iters is not None:
        return args.iters
    if state is not None and state["iters"] is not None:
        return state["iters"]
    return ITERS_DEFAULT


def complete_closing_rows(out_dir, state):
    """A finished run's closing rows (recorded in its last checkpoint, written after it) where a
    kill left them out, or half written; a file that goes on otherwise is left as it is."""
    for name in run_files(state["hparams"]):
        size_field, _, closing_field = RUN_FILES[name]
        closing = state[closing_field].encode() if closing_field else b""
        path, size = os.path.join(out_dir, name), state[size_field]
        if not closing or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            f.seek(size)
            tail = f.read(len(closing) + 1)
        if tail != closing and closing.startswith(tail):
            try:
                os.truncate(path, size)
                with open(path, "ab") as f:
                    f.write(closing)
            except OSError as e:
                raise write_error(path, e) from None


def init_from_start(args, text):
    """(starting weights, vocabulary, options) of a new run from --init-from's weights."""
    start = load_checkpoint(args.init_from)
    given = given_hparams(args)
    for k in ("cell", "hidden_size"):
        if k in given and given[k] != start["hparams"][k]:
            raise UserError(f"--init-from: '{args.init_from}' holds a model with --{k.replace('_', '-')} "
                            f"{start['hparams'][k]}, not {given[k]}")
    index_text(text, start["chars"], f"--init-from: the model in '{args.init_from}'")
    hp = {**HPARAM_DEFAULTS, **given, "cell": start["hparams"]["cell"],
          "hidden_size": start["hparams"]["hidden_size"]}
    return start["params"], start["chars"], hp


def check_sizes(args, hp, data, val, state):
    """The text must be long enough for the options (and the checkpoint's pointer inside it)."""
    if len(data) < hp["seq_length"] + 2:
        held = f" after holding out {len(val)} for --val-frac {hp['val_frac']}" if len(val) else ""
        raise UserError(f"'{args.text}' has {len(data)} characters to train on{held}; training needs "
                        f"at least seq_length + 2 = {hp['seq_length'] + 2}")
    if hp["val_frac"] > 0 and len(val) < 2:
        raise UserError(f"--val-frac {hp['val_frac']} holds out {len(val)} of the {len(data) + len(val)} "
                        f"characters of '{args.text}'; the held-out loss needs at least 2")
    if state is not None and state["p"] >= len(data):
        raise UserError(f"checkpoint '{os.path.join(out_dir_of(args), 'checkpoint.npz')}' is corrupt: "
                        f"field 'p' is {state['p']}, beyond the {len(data)} characters trained on")


def prepare_run(args):
    """Check everything a run needs before writing a file; return the Run.

    A directory that holds a run is owned (own_run_dir) before anything in it is trusted:
    whether the run is finished, and what its checkpoint and log files say. A new run's
    directory is made and owned only once every check has passed.
    """
    text = read_text(args.text, args.encoding)
    out_dir = out_dir_of(args)
    ckpt = os.path.join(out_dir, "checkpoint.npz")
    if args.resume and args.init_from:
        raise UserError("--resume continues a run, --init-from starts a new one: give one of them")
    if args.resume and os.path.isdir(out_dir):  # a run still before its first checkpoint is in use
        own_run_dir(out_dir)
    if args.resume and not os.path.exists(ckpt):
        raise UserError(f"--resume: no checkpoint at '{ckpt}' (start the run without --resume)")
    state, start = (existing_run(args, text, out_dir), None) if os.path.exists(ckpt) else (None, None)
    if state is not None:
        chars, hp = state["chars"], state["hparams"]
    elif args.init_from:
        start, chars, hp = init_from_start(args, text)
    else:
        chars, hp = build_vocab(text)[0], {**HPARAM_DEFAULTS, **given_hparams(args)}
    data, val = split_heldout(index_text(text, chars, "the model"), hp["val_frac"])
    check_sizes(args, hp, data, val, state)
    check_training_memory(hp, len(chars))
    if state is None:  # a new run: the directory is made and owned only now, all checks passed
        own_run_dir(out_dir)
        if os.path.exists(ckpt):  # another process made a run here while we checked
            raise UserError(f"'{out_dir}' already holds a run: continue it with --resume, "
                            f"or choose another --out")
        discard_dead_logs(out_dir)
        state = new_state(chars, text, hp, target_iters(args), params=start)
    return Run(state, data, val if len(val) else None, out_dir, args)


def progress(n, smooth_loss, seq_length, iters, n0, t0, now):
    """The classic 'iter n, loss: x' line (x is the smoothed loss), per character, with the
    progress towards iters and the speed since iteration n0 at time t0."""
    line = (f"iter {n}, loss: {smooth_loss:f} (smoothed, a sum over {seq_length} characters: "
            f"{bits_per_char(smooth_loss, seq_length):.3f} bits per character)")
    done = f"{n / iters:.0%} of {iters}" if iters else "no --iters limit"
    if n > n0 and now > t0:
        rate = (n - n0) / (now - t0)
        left = f", {format_seconds((iters - n) / rate)} left" if iters else ""
        return f"{line} | {done}, {rate:.0f} it/s{left}"
    return f"{line} | {done}"


class Run:
    """What the training loop (min_char_rnn.train) needs of the world, and nothing else: the
    text (data, and the held-out part val or None), the options (hparams, the cell's module),
    the state to start from, and, while in a with block, the logs, the held-out evaluation,
    the checkpoints and the stop signals (Ctrl-C, SIGTERM: the loop ends after the iteration
    it is in, and the run is saved).

    state is the checkpoint's dict (charrnn.checkpoint.new_state). The loop keeps its weights
    and Adagrad memory, state["params"] and state["mem"], current in place, so evaluate and
    checkpoint read them there; the rest (hprev, p, n, smooth_loss) it passes to checkpoint."""

    def __init__(self, state, data, val, out_dir, args):
        self.state, self.data, self.val, self.out_dir = state, data, val, out_dir
        self.hparams = state["hparams"]
        self.cell = cell_module(self.hparams["cell"])
        self.iters = state["iters"] = target_iters(args, state)
        state["loss_csv_closing"] = state["val_csv_closing"] = ""  # a finished run's, cut on resume
        self.checkpoint_every = args.checkpoint_every
        self.print_interval, self.resumed = args.print_interval, args.resume
        self.ckpt = os.path.join(out_dir, "checkpoint.npz")
        self.n_start = state["n"]
        self.last_print = {"loss": -math.inf, "sample": -math.inf, "val": -math.inf}
        # a smoothed loss above twice a uniform guess's, at two logged rows in a row, is divergence
        self.diverged_above = 2 * self.hparams["seq_length"] * math.log(len(state["chars"]))
        self.rows_above = 0
        if val is not None:
            self.val_inputs, self.val_targets = heldout_streams(val)

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
        print(f"{CELLS[self.hparams['cell']]}, hidden size {self.hparams['hidden_size']}; data has "
              f"{len(self.data)} characters{held}, {len(self.state['chars'])} unique; writing to "
              f"{self.out_dir}" + (f"; resuming at iteration {self.n_start}" if self.n_start else ""),
              flush=True)
        self.t_start = time.perf_counter()
        if self.val is not None and self.n_start == 0 and not self.resumed:
            self.evaluate(0, self.state["hprev"])  # the untrained model: about log2(vocabulary size)
        return self

    def __exit__(self, exc_type, exc, tb):
        self.elapsed = time.perf_counter() - self.t_start
        self.stop.__exit__()
        for log in self.logs.values():
            log.close(failing=exc_type is not None)
        if isinstance(exc, Diverged):  # say what is left, and that going on as before cannot help
            raise Diverged(f"{exc}; {diverged_advice(self.ckpt)}") from None
        if isinstance(exc, UserError):  # a write failed: say what is left to go on from
            raise UserError(f"{exc}; {kept_checkpoint(self.ckpt)}") from None

    def due(self, what, now):
        """Whether a line of this kind may be printed now (at most one per --print-interval)."""
        if now - self.last_print[what] >= self.print_interval:
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
        clipped = [k for k, g in zip(PARAM_NAMES, grads) if np.abs(g).max() >= 5]
        return loss_row(n, loss, smooth_loss, self.hparams["seq_length"], clipped, self.columns)

    def log_loss(self, n, loss, smooth_loss, grads):
        """A row of loss.csv, a progress line now and then, and the check for divergence."""
        self.logs["loss.csv"].write(self.loss_line(n, loss, smooth_loss, grads))
        now = time.perf_counter()
        if self.due("loss", now):
            print(progress(n, smooth_loss, self.hparams["seq_length"], self.iters, self.n_start,
                           self.t_start, now), flush=True)
        self.rows_above = self.rows_above + 1 if smooth_loss > self.diverged_above else 0
        if self.rows_above >= 2:
            raise Diverged(f"training diverged: the smoothed loss is {smooth_loss:.4g} at iteration {n}, "
                           f"more than twice a uniform guess's ({self.diverged_above / 2:.1f})")

    def val_line(self, n, hprev):
        """A row of val.csv: the held-out bits per character of the current weights. Every
        stream starts from the state the training carries now, hprev (a state of the model's own
        regime: from a zero state, a trained model read mid-play can fall into a saturated
        state and stay there for thousands of characters), and reads EVAL_WARMUP characters
        before its part, unscored: so 100 streams side by side score the text as one does."""
        nats = heldout_loss(self.val_inputs, self.val_targets, self.state["params"], self.cell, hprev)
        bpc = bits_per_char(nats, int((self.val_targets >= 0).sum()))
        if self.due("val", time.perf_counter()):
            print(f"iter {n}, held-out: {bpc:.4f} bits per character", flush=True)
        return f"{n},{bpc!r}\n".encode()

    def evaluate(self, n, hprev):
        self.logs["val.csv"].write(self.val_line(n, hprev))

    def checkpoint(self, hprev, p, n, smooth_loss):
        """Save the whole state, with how far each log reached (see charrnn.checkpoint); at the
        run's last iteration, finish saves it instead, with the closing rows."""
        if n != self.iters:
            self.save(hprev, p, n, smooth_loss)

    def save(self, hprev, p, n, smooth_loss):
        for name, log in self.logs.items():
            size_field, sha_field, _ = RUN_FILES[name]
            self.state[size_field], self.state[sha_field] = log.tell(), log.sha256.hexdigest()
        self.state.update(hprev=hprev, p=p, n=n, smooth_loss=smooth_loss)
        save_checkpoint(self.ckpt, self.state)

    def diverged(self, n, loss):
        """The loss is not finite: stop, keeping the last checkpoint whose loss was finite."""
        drop_diverged(self.ckpt, self.state, n)
        raise Diverged(f"the loss became {loss} at iteration {n}: training diverged")

    def finish(self, hprev, p, n, smooth_loss, loss, grads):
        """The last checkpoint. A run that reached its --iters here gets closing rows, the figures
        of its end where the periodic ones missed it: recorded in the checkpoint and written after
        it, so that --resume with a larger --iters cuts them off (and goes on exactly as a run
        that never stopped), and a run killed before they were written gets them back."""
        if smooth_loss > self.diverged_above:  # a run too short for two logged rows above it
            raise Diverged(f"training diverged: the smoothed loss is {smooth_loss:.4g} at the end, "
                           f"more than twice a uniform guess's ({self.diverged_above / 2:.1f})")
        closing = {}
        if n == self.iters and n > self.n_start:
            if (n - 1) % self.hparams["log_every"]:
                closing["loss.csv"] = self.loss_line(n - 1, loss, smooth_loss, grads)
            if self.val is not None and n % self.hparams["eval_every"]:
                closing["val.csv"] = self.val_line(n, hprev)
        self.state["loss_csv_closing"] = closing.get("loss.csv", b"").decode()
        self.state["val_csv_closing"] = closing.get("val.csv", b"").decode()
        self.save(hprev, p, n, smooth_loss)
        for name, row in closing.items():
            self.logs[name].write(row)


def drop_diverged(ckpt, state, n):
    """If the checkpoint on disk is of iteration n, it holds the weights whose loss was not
    finite: put the one before back in its place, or (there was none) set it aside."""
    if state["n"] != n or not os.path.exists(ckpt):
        return
    try:
        if os.path.exists(previous_checkpoint_path(ckpt)):
            os.replace(previous_checkpoint_path(ckpt), ckpt)
        else:
            os.replace(ckpt, diverged_checkpoint_path(ckpt))
    except OSError as e:
        raise write_error(ckpt, e) from None


def what_is_kept(ckpt):
    """(what a run that stopped on an error leaves to go on from, for its message; whether that
    is a checkpoint)."""
    try:
        with np.load(ckpt) as z:
            n = int(z["n"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        if not os.path.isdir(os.path.dirname(ckpt) or "."):
            return f"the run folder '{os.path.dirname(ckpt)}' is gone, and its checkpoints with it", False
        if os.path.exists(diverged_checkpoint_path(ckpt)):
            return (f"no good checkpoint is left: the only one held the weights that diverged "
                    f"(set aside as '{diverged_checkpoint_path(ckpt)}')"), False
        return "no checkpoint was written yet", False
    return f"the last good checkpoint '{ckpt}' (iteration {n}) is kept", True


def kept_checkpoint(ckpt):
    """What a run that stopped on an error (a failed write, say) leaves, and how to go on."""
    kept, is_checkpoint = what_is_kept(ckpt)
    return kept + (": --resume continues from it" if is_checkpoint else "; start the run again")


def diverged_advice(ckpt):
    """What a run that diverged leaves, and the way on that works: the same learning rate from
    the same weights would diverge again, and a folder holds one run."""
    kept, is_checkpoint = what_is_kept(ckpt)
    if is_checkpoint:
        return (f"{kept}, but at this --learning-rate it would diverge again: start a new run with "
                f"a smaller --learning-rate and another --out")
    return f"{kept}: start the run again with a smaller --learning-rate"
