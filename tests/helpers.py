"""What the tests share: the trainer on the command line, a small text, a run's files, and
the assertions several test files make (no test file imports another)."""
import csv
import ctypes
import hashlib
import os
import resource
import shlex
import signal
import subprocess
import sys
import time

import numpy as np

from charrnn.checkpoint import RUN_FILES


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "min_char_rnn.py")

TEXT = ("the quick brown fox jumps over the lazy dog.\n"
        "she sells sea shells by the sea shore, and the shells she sells are sea shells.\n"
        "ROMEO: what light through yonder window breaks?\n") * 20

# small and fast, but every part of the loop is used
SMALL = ["--hidden-size", "16", "--seq-length", "10", "--sample-every", "50",
         "--sample-length", "30", "--log-every", "10", "--print-interval", "0"]


def write_text(tmp_path, text=TEXT, name="text.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def cli(*args, cwd=None, timeout=120, **kwargs):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, **kwargs)


def fsize_limit(nbytes):
    """A preexec_fn: files may grow to nbytes, then writes fail with EFBIG, as on a full disk."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return limit


def popen(*args, cwd=None):
    return subprocess.Popen([sys.executable, SCRIPT, *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)


def tree_digest(folder):
    """name -> sha256 of every file below folder."""
    out = {}
    for dirpath, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, folder)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def blas_kernels():
    """The OpenBLAS core type in use (for example Haswell or SkylakeX), from the loaded library."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.split()[-1].lower()}
        for lib in libs:
            for name in ("scipy_openblas_get_corename64_", "openblas_get_corename64_",
                         "openblas_get_corename"):
                func = getattr(ctypes.CDLL(lib), name, None)
                if func is not None:
                    func.restype = ctypes.c_char_p
                    return func().decode()
    except OSError:
        pass
    return "unknown"


# ---------------------------------------------------------------------------
# A run's files
# ---------------------------------------------------------------------------

def read_rows(run):
    with open(os.path.join(run, "loss.csv"), newline="") as f:
        return list(csv.DictReader(f))


def rows_in(run):
    """How many rows loss.csv holds so far (0 while there is none)."""
    try:
        return len(read_rows(run))
    except (OSError, StopIteration):
        return 0


def same_run(a, b):
    """Bit-identical: checkpoint arrays and every output file."""
    with np.load(os.path.join(a, "checkpoint.npz")) as za, np.load(os.path.join(b, "checkpoint.npz")) as zb:
        assert sorted(za.files) == sorted(zb.files)
        for k in za.files:
            np.testing.assert_array_equal(za[k], zb[k], err_msg=k)
    for name in RUN_FILES:  # loss.csv, samples.txt, and val.csv where there is one
        assert os.path.exists(os.path.join(a, name)) == os.path.exists(os.path.join(b, name)), name
        if os.path.exists(os.path.join(a, name)):
            with open(os.path.join(a, name), "rb") as fa, open(os.path.join(b, name), "rb") as fb:
                assert fa.read() == fb.read(), name


def wait_for(predicate, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


# ---------------------------------------------------------------------------
# Errors: one line on stderr
# ---------------------------------------------------------------------------

def one_line(stderr, *words):
    """stderr is one line, no traceback, naming every one of words (any case); returns the line."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    return lines[0]


def advised_command(line, before):
    """The trainer's arguments of the command a message advises: what follows `before` in line,
    up to ", or" or the end, as a shell would split it (without python and the script)."""
    command = line.split(before, 1)[1].split(", or ")[0]
    words = shlex.split(command)
    assert words[0] == "python" and words[1].endswith("min_char_rnn.py"), command
    return words[2:]


def assert_one_line_error(r, *words):
    """A finished process r failed with one line on stderr naming words."""
    assert r.returncode != 0
    one_line(r.stderr, *words)


class UndisturbedRuns:
    """runs(*args): the folder of a run of args (after the shared text) that nothing disturbed,
    trained the first time it is asked for, then reused: what a disturbed run must end as."""

    def __init__(self, folder):
        self.folder, self.text, self.runs = folder, write_text(folder), {}

    def __call__(self, *args):
        key = tuple(map(str, args))
        if key not in self.runs:
            self.runs[key] = str(self.folder / f"run-{len(self.runs)}")
            r = cli(self.text, *args, "--out", self.runs[key])
            assert r.returncode == 0, r.stderr
        return self.runs[key]
