"""The logs of a run: loss.csv, val.csv and samples.txt; their rows, writing them, reading them
back (the one CSV reader: columns by name), and checking them against a checkpoint on resume.

    loss.csv     iteration,loss,smooth_loss,smooth_bpc,clipped   (every --log-every iterations)
    val.csv      iteration,val_bpc                              (with --val-frac)
    samples.txt  --- iteration N --- and the sample              (every --sample-every iterations)
"""
import csv
import hashlib
import math
import os

from charrnn.checkpoint import RUN_FILES
from charrnn.system import UserError, write_error


LOSS_CSV_HEADER = "iteration,loss,smooth_loss,smooth_bpc,clipped"
VAL_CSV_HEADER = "iteration,val_bpc"
# How each log file begins: a file by that name that begins otherwise is not a run's log, and
# is never deleted. (Runs of an earlier version have three columns in loss.csv.)
RUN_FILE_STARTS = {"loss.csv": b"iteration,", "samples.txt": b"--- iteration ",
                   "val.csv": VAL_CSV_HEADER.encode()}


def bits_per_char(loss, characters):
    """A loss in nats summed over `characters` characters, as bits per character: the one
    conversion of the project."""
    return loss / characters / math.log(2)


def per_char(loss, seq_length):
    """A loss summed over a chunk of seq_length characters, per character, in nats and bits."""
    return f"{loss / seq_length:.3f} nats = {bits_per_char(loss, seq_length):.3f} bits per character"


def loss_row(it, loss, smooth_loss, seq_length, clipped, columns):
    """One line of loss.csv, as bytes: the chunk loss, the smoothed loss (also in bits per
    character) and the names of the clipped gradients; only the first `columns` fields."""
    row = (str(it), repr(loss), repr(smooth_loss), repr(bits_per_char(smooth_loss, seq_length)),
           " ".join(clipped))
    return (",".join(row[:columns]) + "\n").encode()


def val_row(it, bpc):
    """One line of val.csv, as bytes."""
    return f"{it},{bpc!r}\n".encode()


class Log(dict):
    """A CSV log read back: {column name: list of strings}, one entry per row; lines holds
    the line number in the file of each row (for messages)."""

    def __init__(self, columns, lines):
        super().__init__(columns)
        self.lines = lines


def csv_rows(path, kind):
    """The rows of a CSV file, every fault a UserError; a byte-order mark is ignored."""
    if os.path.isdir(path):
        raise UserError(f"'{path}' is a folder: give the {kind} log inside it")
    if not os.path.exists(path):
        raise UserError(f"'{path}': no such file")
    if not os.path.isfile(path):
        raise UserError(f"'{path}' is not a regular file: give a {kind} log")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"'{path}': cannot be read as CSV ({e})") from None
    if not rows:
        raise UserError(f"'{path}' is empty")
    return rows


def read_log(path, kind="loss"):
    """A CSV log as a Log: its columns by name, one row per iteration (the last one written),
    in order of iteration. A half-written last line (a run killed mid-write) is left out.
    Every fault is a UserError."""
    rows = csv_rows(path, kind)
    header = [c.strip() for c in rows[0]]
    by_iteration = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            if len(row) != len(header):
                raise ValueError
            by_iteration[int(row[0])] = (lineno, row)
        except ValueError:
            if lineno == len(rows):
                break
            raise UserError(f"'{path}' line {lineno} is not a {kind} row: {','.join(row)!r}") from None
    ordered = [by_iteration[k] for k in sorted(by_iteration)]
    return Log({h: [r[i] for _, r in ordered] for i, h in enumerate(header)}, [n for n, _ in ordered])


def last_row(path):
    """The last complete row of a CSV log as {column: string}, or None (cheap: reads the first
    line and the end only)."""
    try:
        with open(path, "rb") as f:
            header = f.readline().decode("utf-8", "replace").strip().split(",")
            f.seek(max(0, os.path.getsize(path) - 300))
            lines = f.read().decode("utf-8", "replace").split("\n")
    except OSError:
        return None
    if len(lines) < 3:  # [-1]: after the last newline; the header alone is no row
        return None
    fields = lines[-2].split(",")
    return dict(zip(header, fields)) if len(fields) == len(header) and fields != header else None


def run_summary(out_dir, seq_length):
    """The last figures a run logged: its smoothed loss, per chunk and per character, and held-out bpc."""
    row, val = (last_row(os.path.join(out_dir, name)) for name in ("loss.csv", "val.csv"))
    if row is None:
        return "nothing logged yet"
    smooth = float(row["smooth_loss"])
    out = (f"smoothed loss {smooth:.2f} per {seq_length}-character chunk ({per_char(smooth, seq_length)}) "
           f"at iteration {row['iteration']}")
    return out + (f", held-out {float(val['val_bpc']):.3f} bits per character" if val else "")


def prefix_sha256(path, size):
    """A running SHA-256 of the first size bytes of path (of nothing, if size is 0)."""
    h = hashlib.sha256()
    if size:
        with open(path, "rb") as f:
            while size > 0:
                chunk = f.read(min(size, 1 << 20))
                if not chunk:
                    break
                h.update(chunk)
                size -= len(chunk)
    return h


class RunLog:
    """A log file of a run, opened for appending after the first size bytes (what the checkpoint
    recorded; the rest is cut off, so nothing is doubled). It keeps a running SHA-256 of its
    content for the checkpoint, and a failed write is a UserError naming the file."""

    def __init__(self, path, size):
        self.path = path
        try:
            if os.path.exists(path):
                os.truncate(path, size)
            self.sha256 = prefix_sha256(path, size)
            self.f = open(path, "ab")
        except OSError as e:
            raise write_error(path, e) from None

    def write(self, data):
        """Append data (bytes) and flush, so a run killed at any moment leaves a readable file."""
        try:
            self.f.write(data)
            self.f.flush()
        except OSError as e:
            raise write_error(self.path, e) from None
        self.sha256.update(data)

    def tell(self):
        return self.f.tell()

    def close(self, failing=False):
        try:
            self.f.close()
        except OSError as e:
            if not failing:  # else the error already on its way says what went wrong
                raise write_error(self.path, e) from None


# ---------------------------------------------------------------------------
# The logs against a checkpoint
# ---------------------------------------------------------------------------

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
