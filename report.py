"""Regenerate samples/: the exercise's figures and tables, and measurements that answer its
"why" questions, from real training runs.

    python report.py            # the full report into samples/: about 30 minutes on 2 cores
    python report.py --quick    # small iteration counts, under 2 minutes: into runs/report/quick/samples/
    python report.py --pdf      # PDF figures beside the PNGs

Training happens in `python min_char_rnn.py ...` subprocesses, two at a time, into
runs/report/<scale>/: exactly a user's runs. A finished run is reused, an interrupted one
(Ctrl-C stops the report and every run, each saving its checkpoint) is continued with
--resume. Then every section reads the runs' CSV files and checkpoints, and the report's
folder (--samples-dir) is written from scratch: figures (PNG, PDF with --pdf), the CSV data
behind each figure and table, README.md, the report page, and MANIFEST.json, the list of the
files with their SHA-256. It is written beside the folder and put in place whole, and only
over a folder that holds nothing but an earlier report's files, unchanged (see
report_sections/folder.py); a --quick or tiny report never replaces the full one unasked.

This file is the command: its options, the order of the sections, the page's head. The
runs are planned in report_sections/plan.py and trained by report_sections/training.py;
each section is a module of report_sections/ named by its question (SECTIONS below).
"""
import os
import signal
import sys


if __name__ == "__main__":
    # Ctrl-C and SIGTERM wait while the modules load: main() takes them (one line, exit 130)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    from charrnn.system import one_blas_thread
    one_blas_thread()  # before numpy loads: the analyses' matrices are small, the runs get the cores

import contextlib
import datetime
import importlib
import platform
import time

import numpy as np

from charrnn.options import number
from charrnn.parser import Parser
from charrnn.system import UserError, cpu_name, fail, format_seconds
from report_sections import folder
from report_sections.plan import SCALES, Plan
from report_sections.training import Training, say, seconds_by_part


PROG = "report.py"
STOPPED = "stopped; every run saved its checkpoint: run the same command again to continue"
REPORT_TITLE = "# Report: the exercise's questions, answered by measurement"
# The page's sections, in order: modules of report_sections/, imported once the training is
# done (they load matplotlib). A new section: its module, and its name here.
SECTIONS = [
    "three_seeds",
    "greedy_vs_multinomial",
    "why_reloading_is_not_resuming",
    "lstm_gru_vs_vanilla",
    "vanishing_gradients",
    "gradient_clipping",
    "long_range_dependency",
    "truncation_costs",
]


def build_parser():
    ap = Parser(
        description="Train the runs the report needs (reusing finished ones), measure, and write "
                    "the report page with its figures and data into SAMPLES_DIR, from scratch.")
    ap.add_argument("--quick", action="store_true",
                    help="small iteration counts: under 2 minutes, for a first look (same as --scale quick)")
    ap.add_argument("--scale", choices=tuple(SCALES),
                    help="full (default), quick, or tiny (seconds, on a small text: the test suite's)")
    ap.add_argument("--pdf", action="store_true", help="write every figure as PDF too")
    ap.add_argument("--text", default="input.txt", help="training text (default input.txt)")
    ap.add_argument("--runs-dir", metavar="DIR",
                    help="where the runs go (default runs/report/<scale>)")
    ap.add_argument("--samples-dir", metavar="DIR",
                    help="the report's folder, replaced as a whole (default samples for the full "
                         "report, RUNS_DIR/samples for --quick and --scale tiny); refused if it holds "
                         "anything but an earlier report's files as written (see its MANIFEST.json)")
    ap.add_argument("--replace-full-report", action="store_true",
                    help="let a --quick or tiny report replace a full one in --samples-dir (refused "
                         "without it)")
    ap.add_argument("--jobs", type=number(int, 1, False, "training runs at a time"),
                    default=min(2, os.cpu_count() or 1),
                    help="training runs at a time (default 2, or 1 on one core)")
    return ap


def parse_args(argv):
    """The options, with the scale, the runs and samples folders and the command that makes
    this report again (as the page shows it) filled in."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.quick and args.scale not in (None, "quick"):
        ap.error("--quick and --scale disagree")
    args.scale = "quick" if args.quick else (args.scale or "full")
    default_runs = os.path.join("runs", "report", args.scale)
    args.runs_dir = args.runs_dir or default_runs
    default_samples = "samples" if args.scale == "full" else os.path.join(args.runs_dir, "samples")
    args.samples_dir = args.samples_dir or default_samples
    cmd = ["python report.py"]
    if args.scale != "full":
        cmd.append("--quick" if args.scale == "quick" else f"--scale {args.scale}")
    for option, value, default in (("--text", args.text, "input.txt"),
                                   ("--runs-dir", args.runs_dir, default_runs),
                                   ("--samples-dir", args.samples_dir, default_samples)):
        if value != default:
            cmd.append(f"{option} {value}")
    args.report_cmd = " ".join(cmd + (["--pdf"] if args.pdf else []))
    return args


def anchor(title):
    """The link target GitHub gives a Markdown heading: lower case, punctuation dropped."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return "#" + kept.replace(" ", "-")


def page_head(args, sections, times, n_reused, n_jobs, part_seconds):
    """The page's title, how it was made, and its contents."""
    wall, t_train = times
    total = sum(part_seconds.values())
    parts = ", ".join(f"{k} {v:,.0f} s" for k, v in part_seconds.items())
    reuse_note = (f"; {n_reused} of the {n_jobs} training jobs had finished in an earlier "
                  f"invocation and were reused" if n_reused else "")
    contents = "\n".join(f"{n}. [{s.CONTENTS}]({anchor(f'{n}. {s.HEADING}')})"
                         for n, s in enumerate(sections, start=1))
    return f"""{REPORT_TITLE}

Generated by `{args.report_cmd}` on
{datetime.date.today().isoformat()} in {wall / 60:.1f} minutes of wall time, {t_train / 60:.1f} of
them training ({args.jobs} runs at a time on {os.cpu_count()} cores, {cpu_name()}; Python
{platform.python_version()}, NumPy {np.__version__}){reuse_note}. The runs trained for {total:,.0f}
seconds in all, by their own clocks ({parts}), about {total / args.jobs / 60:.0f} minutes of wall
time at {args.jobs} at a time. Every number, figure and table
below comes from the runs in `{args.runs_dir}`; the CSV file beside each figure holds its data.

{contents}
"""


def write_page(args, plan, tmp, times):
    """Measure, and write every section's files and the page into the folder tmp; returns
    (the files written, the sections' summary lines)."""
    from report_sections.page import Output  # only now: it loads matplotlib
    sections = [importlib.import_module(f"report_sections.{name}") for name in SECTIONS]
    t0, t_train, n_reused, n_jobs = times
    out = Output(tmp, args.pdf)
    pages, summaries = [], []
    for n, section in enumerate(sections, start=1):
        page, summary = section.section(plan, out)
        pages.append(f"## {n}. {section.HEADING}\n\n{page}")
        summaries.append(summary)
        say(t0, f"{section.NAME}: done")
    wall = time.perf_counter() - t0
    head = page_head(args, sections, (wall, t_train), n_reused, n_jobs, seconds_by_part(plan))
    out.text("README.md", head + "\n" + "\n".join(pages))
    folder.write_manifest(tmp, out.files, args.scale)
    return out.files, [s for s in summaries if s]


def write_report(args, samples, t0):
    """Train, measure, and put the new page in place of samples; returns (the number of files
    written, the sections' summary lines, wall seconds, training seconds)."""
    plan = Plan(args, SCALES[args.scale])
    say(t0, f"report ({args.scale}): runs in {args.runs_dir}, up to {args.jobs} at a time; "
            f"Ctrl-C stops them all, each saving its checkpoint, and the next report.py continues")
    n_reused, n_jobs = Training(plan, t0).run()
    t_train = time.perf_counter() - t0
    say(t0, "training done; measuring")
    tmp = folder.new_folder(samples)  # the page is written here, then put in place whole
    try:
        files, summaries = write_page(args, plan, tmp, (t0, t_train, n_reused, n_jobs))
        kept = folder.put_in_place(tmp, samples, args.samples_dir, args.scale, args.replace_full_report)
    except BaseException:  # Ctrl-C too: no half-written folder stays behind
        folder.discard(tmp)
        raise
    if kept:
        print(f"{PROG}: a file appeared in the old report as it was replaced: kept in '{kept}'",
              file=sys.stderr)
    return len(files), summaries, time.perf_counter() - t0, t_train


def interrupted(signum, frame):
    """SIGTERM, like Ctrl-C: the report stops where it is, cleanly."""
    raise KeyboardInterrupt


def main(argv=None):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupted)
    t0 = time.perf_counter()
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # held since start
        args = parse_args(argv)
        samples = os.path.abspath(args.samples_dir)
        folder.check_replaceable(samples, args.samples_dir, args.scale, args.replace_full_report)
        n_files, summaries, wall, t_train = write_report(args, samples, t0)
    except UserError as e:
        return fail(PROG, str(e), 2 if isinstance(e, folder.Refused) else 1)
    except BrokenPipeError:  # the reader of the progress lines went away (`| head -1`): stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as e:  # a full disk, a runs or samples folder that is a file, ...
        where = f" '{e.filename}'" if e.filename else ""
        return fail(PROG, f"cannot write{where}: {e.strerror or e}; the runs keep their checkpoints: "
                          f"run the same command again once the cause is gone")
    except KeyboardInterrupt:
        print(f"{PROG}: {STOPPED}", file=sys.stderr)
        return 130
    print(f"\nreport written to {os.path.join(args.samples_dir, 'README.md')} ({n_files} files) in "
          f"{format_seconds(wall)} ({format_seconds(t_train)} training)")
    print("\n".join(summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
