"""The system edges: the one user-error class, BLAS threads, memory, stdout and signals.

Nothing here imports numpy, so a script can call one_blas_thread() before numpy loads.
"""
import contextlib
import ctypes
import os
import platform
import signal
import sys


class UserError(Exception):
    """A problem the user can fix: reported as one line on stderr, no traceback."""


def fail(prog, message, code=1):
    """Report an error in one line on stderr and return the exit code."""
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return code


def write_error(path, e):
    """The one way a failed write is reported: the file, and the system's reason (no space left
    on device, file too large, read-only file system, no such file or directory, ...)."""
    return UserError(f"cannot write '{path}': {e.strerror or e}")


BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread(env=None):
    """One BLAS thread per process: the matrices are small (100 x 100), so one thread is as fast,
    and parallel runs share the cores. In os.environ it must happen before numpy loads; with
    env, a copy for child processes, where it is forced."""
    if env is None:
        for var in BLAS_THREAD_VARS:
            os.environ.setdefault(var, "1")
        return os.environ
    return dict(env, **{var: "1" for var in BLAS_THREAD_VARS})


def quiet_start():
    """For a script's first lines: one BLAS thread, and SIGINT or SIGTERM while numpy loads end
    the process at once, in one line (exit 130 or 143), instead of a traceback; main() takes
    the signals over once it runs."""
    one_blas_thread()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, exit_at_once)
    # a child of charrnn.pool starts with them held (see prepare_child): what came meanwhile, now
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def exit_at_once(signum, frame):
    """Nothing is open yet: say so and end (os._exit: no clean-up, no traceback)."""
    name = os.path.basename(sys.argv[0]) or "python"
    os.write(2, f"{name}: error: interrupted by {signal.Signals(signum).name}\n".encode())
    os._exit(128 + signum)


def cpu_name():
    """The processor's model name, for the records of a measurement."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gib(nbytes):
    return f"{nbytes / 2 ** 30:.1f} GiB"


def available_memory():
    """Bytes of memory available to a new process (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def format_seconds(s):
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


# Signals that stop a run cleanly: it saves a checkpoint and exits 128 + the signal. SIGPIPE
# comes when the reader of stdout goes away (`... | head -1`): as for any Unix tool, we stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE)


class Terminated(BaseException):
    """SIGTERM, where nothing has taken the signal over: like KeyboardInterrupt for SIGINT."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def raise_terminated(signum, frame):
    raise Terminated(signum)


class StopSignals:
    """While in use, the stop signals are recorded in `received` instead of ending the process,
    and `on_signal(signum)`, if given, is called too; on leaving, the old handlers are back."""

    def __init__(self, on_signal=None, signals=STOP_SIGNALS):
        self.received, self.on_signal, self.signals = [], on_signal, signals

    def _record(self, signum, frame):
        self.received.append(signum)
        if self.on_signal is not None:
            self.on_signal(signum)

    def __enter__(self):
        self.old = {s: signal.signal(s, self._record) for s in self.signals}
        return self

    def __exit__(self, *_):
        for s, handler in self.old.items():
            signal.signal(s, handler)

    @property
    def first(self):
        """The first stop signal received, or None."""
        return self.received[0] if self.received else None


def prepare_child():
    """In a child process of the trainer, before it starts (a preexec_fn):

    - a SIGTERM when the parent dies, however it dies (kill -9 too), so a run saves its
      checkpoint and ends instead of training on unowned;
    - SIGINT and SIGTERM held until the child's quiet_start can handle them: one that comes
      while the interpreter starts waits instead of killing it half-way or being lost.
    """
    with contextlib.suppress(OSError, AttributeError):  # Linux only: elsewhere, nothing
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


class SafeStdout:
    """sys.stdout, for a reader that may go away (`... | head -1`) or a disk that may fill.

    Once the pipe is closed, output goes to /dev/null instead of raising BrokenPipeError
    from whichever print comes next, and `gone` is set for the loops that write to stop
    (training stops on the SIGPIPE that comes with it, see STOP_SIGNALS). Any other failed
    write (stdout redirected to a full disk) is a UserError.
    """

    def __init__(self, stream):
        self.stream, self.gone = stream, False

    def _failed(self, e):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.stream.fileno())  # what is still buffered goes there, quietly
        os.close(devnull)
        if not isinstance(e, BrokenPipeError):
            raise UserError(f"cannot write to standard output: {e.strerror or e}") from None
        self.gone = True
        signal.raise_signal(signal.SIGPIPE)  # ignored unless a run is training (the kernel's
        # own SIGPIPE comes only for pipes)

    def write(self, text):
        try:
            return self.stream.write(text)
        except OSError as e:
            self._failed(e)
            return len(text)

    def flush(self):
        try:
            self.stream.flush()
        except OSError as e:
            self._failed(e)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def safe_stdout():
    """Install SafeStdout, also for a process started with stdout closed (>&-)."""
    if sys.stdout is None:  # what it would print goes nowhere
        sys.stdout = open(os.devnull, "w")
    if not isinstance(sys.stdout, SafeStdout):
        sys.stdout = SafeStdout(sys.stdout)


def check_memory(need, what, advice):
    """Refuse up front, in one line, work that needs more memory than this machine has."""
    have = available_memory()
    if have is not None and need > have:
        raise UserError(f"{what} about {gib(need)} of memory (weights, Adagrad memory, gradients), "
                        f"more than the {gib(have)} available; {advice}")
