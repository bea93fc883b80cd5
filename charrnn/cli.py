"""The command line of min_char_rnn.py: train, train several seeds, or sample."""
import json
import shlex
import signal
import sys

from charrnn.logs import run_summary
from charrnn.model import CELLS
from charrnn.options import build_parser, misplaced_options
from charrnn.prepare import RunFinished, prepare_run
from charrnn.sampling import compare_strategies, sample_from_checkpoint
from charrnn.seeds import run_seeds
from charrnn.system import Terminated, UserError, fail, raise_terminated, safe_stdout


PROG = "min_char_rnn.py"


def train_command(args, outcome):
    """Train one run (min_char_rnn.train) and say how it ended; exit code."""
    from min_char_rnn import train
    try:
        run = prepare_run(args)
    except RunFinished as done:
        print(done, flush=True)
        outcome["status"] = "finished before"
        return 0
    n = train(run)
    done = n - run.n_start
    rate = done / run.elapsed if run.elapsed > 0 else float("nan")
    outcome.update(iteration=n, iterations=done, seconds=run.elapsed)
    print(f"{done} iterations (numbers {run.n_start} to {n - 1}) in {run.elapsed:.1f} s ({rate:.1f} it/s); "
          f"{run_summary(run.out_dir, run.hparams['seq_length'])}; checkpoint: {run.ckpt}", flush=True)
    if run.stop.received:
        of = f" of {run.iters}" if run.iters else ""
        outcome["message"] = (f"stopped by {signal.Signals(run.stop.first).name} after {n}{of} iterations; "
                              f"continue with: {run.settings.resume_command}")
        print(outcome["message"], file=sys.stderr, flush=True)
        return 128 + run.stop.first
    return 0


def dispatch(args, given, outcome):
    misplaced = misplaced_options(args, given)
    if misplaced:
        return fail(PROG, misplaced, 2)
    if args.text is not None and (args.sample_from or args.compare):
        return fail(PROG, f"'{args.text}': a training text is not used by --sample-from or --compare", 2)
    if args.out == "":
        return fail(PROG, "--out is empty: give a folder, or leave the option out for runs/seed-<seed>", 2)
    if args.sample_from:
        return sample_from_checkpoint(args)
    if args.compare:
        return compare_strategies(args)
    if args.text is None:
        return fail(PROG, "give a training text (python min_char_rnn.py input.txt), "
                          "or --sample-from CHECKPOINT", 2)
    return run_seeds(args) if args.seeds else train_command(args, outcome)


def main(argv=None):
    """Run the command; every error a user can cause is one line on stderr and an exit code.

    From its first line to its last, SIGINT and SIGTERM end it in one line too (a training run
    or a --seeds group takes them over while it works, to save and stop cleanly)."""
    args, outcome = None, {"status": "trained", "message": "", "iteration": None, "iterations": 0,
                           "seconds": 0.0}
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # back from the quiet start-up
        signal.signal(signal.SIGTERM, raise_terminated)
        safe_stdout()
        args = build_parser().parse_args(argv)
        given = list(vars(build_parser(defaults=False).parse_args(argv)))  # in the parser's order
        code = dispatch(args, given, outcome)
    except UserError as e:
        code, outcome["message"] = fail(PROG, e), str(e)
    except (KeyboardInterrupt, Terminated) as e:  # before a run set its handlers (reading the text, ...)
        signum = e.signum if isinstance(e, Terminated) else signal.SIGINT
        outcome["message"] = f"interrupted by {signal.Signals(signum).name}"
        code = fail(PROG, outcome["message"], 128 + signum)
    except MemoryError:  # what the up-front estimates (check_memory, read_text) did not foresee
        code, outcome["message"] = fail(PROG, "out of memory"), "out of memory"
    if args is not None and args.outcome:
        write_outcome(args.outcome, outcome, code)
    return code


def cell_file_main(cell, argv):
    """python min_char_lstm.py (or _gru): that file holds a cell's math, and min_char_rnn.py
    trains it. --help says so (exit 0); anything else is one line with the command to use."""
    name, train = f"min_char_{cell}.py", "python min_char_rnn.py " + shlex.join(argv or ["input.txt"])
    if argv in (["--help"], ["-h"]):
        print(f"{name} holds the {CELLS[cell]} cell; train one with: python min_char_rnn.py input.txt "
              f"--cell {cell} (python min_char_rnn.py --help lists the options)")
        return 0
    return fail(name, f"this file holds the {CELLS[cell]} cell; train one with: {train} --cell {cell}", 2)


def write_outcome(path, outcome, code):
    """For a parent process (charrnn.pool): how this one ended, as a small JSON file."""
    if code != 0:
        stopped = code - 128 in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE)
        outcome["status"] = "stopped" if stopped else "failed"
    outcome["exit_code"] = code
    try:
        with open(path, "w") as f:
            json.dump(outcome, f)
    except OSError as e:
        print(f"{PROG}: cannot write '{path}': {e.strerror}", file=sys.stderr)
