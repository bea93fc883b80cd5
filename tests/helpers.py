import ctypes
import hashlib
import os
import subprocess
import sys

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


def cli(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)


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
