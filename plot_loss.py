"""Plot the loss curves that min_char_rnn.py writes to loss.csv.

    python plot_loss.py runs/seed-*/loss.csv -o loss.png             # all runs in one figure
    python plot_loss.py runs/seed-*/loss.csv -o loss.png --separate  # and one figure per run
    python plot_loss.py runs/seed-1/loss.csv -o loss.pdf --raw       # with the per-iteration loss

Reads only the CSV files: loss.csv (iteration, loss, smooth_loss and, from runs of this
version on, smooth_bpc), and the val.csv beside a loss.csv where the run held out part of
its text (--val-frac). The left axis is the smoothed loss as the trainer prints it, a sum
over one chunk of seq_length characters; the right axis gives the same in bits per
character, and the held-out curves are read on it. The output's extension (.png, .pdf,
.svg, .jpg) chooses the format. Works without a display.
"""
import math
import os
import sys

from charrnn.logs import read_log
from charrnn.parser import Parser
from charrnn.system import UserError, fail


PROG = "plot_loss.py"
FORMATS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")
STYLES = ("-", "--", "-.", ":")  # one per run, so the curves stay apart in greyscale too
MARKERS = ("o", "s", "^", "D", "v")


def read_loss_csv(path, columns=("iteration", "loss", "smooth_loss"), kind="loss", optional=()):
    """The named columns as lists of numbers; optional columns are None where the file lacks them.
    Read by charrnn.logs.read_log (a folder, a missing or empty file, a row that is not a log's
    row are its UserErrors); here every value must be a number a loss can have."""
    log = read_log(path, kind)
    if not set(columns) <= set(log):
        raise UserError(f"'{path}' is not a {kind} log: its header needs {', '.join(columns)}")
    if not log[columns[0]]:
        raise UserError(f"'{path}' has no {kind} rows yet")
    names = list(columns) + [c for c in optional if c in log]
    data = {k: [] for k in names}
    for i, line in enumerate(log.lines):
        for k, v in zip(names, row_values(path, kind, log, names, i, line)):
            data[k].append(v)
    return tuple(data.get(k) for k in (*columns, *optional))


def row_values(path, kind, log, names, i, line):
    """The values of the named columns in row i of a log read by read_log (line: its line in the
    file), as numbers."""
    row = ",".join(log[h][i] for h in log)
    try:
        values = [float(log[k][i]) for k in names]
    except ValueError:
        raise UserError(f"'{path}' line {line} is not a {kind} row: {row!r}") from None
    if not all(math.isfinite(v) and abs(v) < 1e100 for v in values):
        raise UserError(f"'{path}' line {line} holds a value no loss can have: {row!r}")
    return values


def read_run(path):
    """A run's ((iterations, losses, smooth losses, smooth bpc or None), held-out or None):
    val.csv is read where it lies beside a loss.csv."""
    val = os.path.join(os.path.dirname(path), "val.csv")
    held_out = (read_loss_csv(val, ("iteration", "val_bpc"), "held-out")
                if os.path.basename(path) == "loss.csv" and os.path.isfile(val) else None)
    return read_loss_csv(path, optional=("smooth_bpc",)), held_out


def run_name(path, depth):
    """A run's name from the last `depth` folders of its path (and the file's stem, unless loss)."""
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    stem = os.path.splitext(parts[-1])[0]
    return "-".join(parts[-1 - depth:-1] if stem == "loss" else [*parts[-depth:-1], stem])


def run_names(paths):
    """A distinct name per file: runs/seed-1/loss.csv -> seed-1; two seed-1 folders -> a-seed-1, b-seed-1."""
    for depth in range(1, 6):
        names = [run_name(p, depth) for p in paths]
        if len(set(names)) == len(names):
            return names
    return [f"{n}-{i}" for i, n in enumerate(names, start=1)]


def bits_per_unit(runs):
    """Bits per character per unit of the smoothed loss (1 / (seq_length ln 2)), if all runs agree."""
    factors = {round(bpc[-1] / smooth[-1], 12) for _, ((_, _, smooth, bpc), _) in runs if bpc and smooth[-1]}
    missing = any(not bpc for _, ((_, _, _, bpc), _) in runs)
    return factors.pop() if len(factors) == 1 and not missing else None


class Scale:
    """y -> y * factor and back: the conversion of the bits-per-character axis."""

    def __init__(self, factor):
        self.factor = factor

    def forward(self, y):
        return y * self.factor

    def inverse(self, b):
        return b / self.factor


def draw(ax, runs, raw, skip, ylim):
    """Smoothed loss per run (a line style each), optionally the raw chunk loss behind it, and
    the held-out bits per character on the right-hand axis."""
    factor = bits_per_unit(runs)
    held_ax = ax if factor else (ax.twinx() if any(val for _, (_, val) in runs) else None)
    shown = []  # the smoothed values past `skip`, which set the y range
    for i, (name, ((it, loss, smooth, _), val)) in enumerate(runs):
        style, color = STYLES[i % len(STYLES)], f"C{i % 10}"
        if raw:
            ax.plot(it, loss, color=color, linestyle=style, linewidth=0.6, alpha=0.3,
                    label=f"{name}: chunk loss (raw)")
        ax.plot(it, smooth, color=color, linestyle=style, linewidth=1.6, label=f"{name}: smoothed loss")
        shown += [s for x, s in zip(it, smooth) if x >= skip]
        if val:
            scale = 1 / factor if factor else 1  # drawn in left-axis units, read on the right axis
            held_ax.plot(val[0], [v * scale for v in val[1]], color=color,
                         linestyle=style, linewidth=1.0, marker=MARKERS[i % len(MARKERS)],
                         markersize=4, label=f"{name}: held-out")
            shown += [v * scale for x, v in zip(*val) if x >= skip] if factor else []
    ax.set_xlabel("iteration")
    ax.set_ylabel(("loss" if raw else "smoothed loss") + ": sum of -ln p over one chunk")
    ax.grid(True, alpha=0.3)
    if ylim:
        ax.set_ylim(*ylim)
    elif shown:  # focus on where the runs are after the first steep descent
        low, high = min(shown), max(shown)
        pad = 0.05 * (high - low) or 0.05 * abs(high) or 1.0
        ax.set_ylim(low - pad, high + pad)
    if factor:
        scale = Scale(factor)
        right = ax.secondary_yaxis("right", functions=(scale.forward, scale.inverse))
        held = any(val for _, (_, val) in runs)
        right.set_ylabel("bits per character" + (" (held-out curves: this axis)" if held else ""))
    elif held_ax is not None:
        held_ax.set_ylabel("held-out bits per character")
    lines = ax.get_lines() + (held_ax.get_lines() if held_ax not in (None, ax) else [])
    ax.legend(lines, [line.get_label() for line in lines], fontsize="small")


def build_parser():
    ap = Parser(
        description="Plot min_char_rnn.py loss curves from loss.csv files (and the held-out "
                    "bits per character from the val.csv beside them).")
    ap.add_argument("csv", nargs="+", help="loss.csv files, one per run")
    ap.add_argument("-o", "--output", default="loss.png",
                    help="figure to write; .png, .pdf, .svg or .jpg (default loss.png)")
    ap.add_argument("--separate", action="store_true",
                    help="also write one figure per run, named OUTPUT-<run>.EXT")
    ap.add_argument("--raw", action="store_true",
                    help="also draw each iteration's chunk loss, faintly, with its own legend entry")
    ap.add_argument("--skip", metavar="N", type=float,
                    help="leave the first N iterations out of the y range (they are still drawn); "
                         "default: the first 5%% of the longest run")
    ap.add_argument("--ylim", metavar=("LOW", "HIGH"), type=float, nargs=2,
                    help="y range of the smoothed loss, instead of the automatic one")
    ap.add_argument("--title", default="Training loss", help="title of the overlaid figure (default "
                    "'Training loss'; '' for none)")
    ap.add_argument("--run-title", default="{run}",
                    help="title of each --separate figure; {run} is replaced by the run's name "
                         "(default '{run}')")
    ap.add_argument("--force", action="store_true",
                    help="replace figures of the same names (without it, an existing file is never "
                         "overwritten)")
    ap.add_argument("--show", action="store_true", help="also open a window")
    return ap


def checked_runs(args):
    """The runs to plot, [(name, read_run(path))], once the options are checked."""
    _, ext = os.path.splitext(args.output)
    if ext.lower() not in FORMATS:
        raise UserError(f"cannot write '{args.output}': give a file ending in {', '.join(FORMATS)}")
    runs = list(zip(run_names(args.csv), (read_run(p) for p in args.csv)))
    if args.skip is not None and not args.skip >= 0:
        raise UserError(f"--skip {args.skip:g}: give a number of iterations, 0 or more")
    if args.ylim and not all(math.isfinite(y) and abs(y) < 1e100 for y in args.ylim):
        raise UserError(f"--ylim {args.ylim[0]:g} {args.ylim[1]:g}: give two finite limits a loss can have")
    if args.ylim and not args.ylim[0] < args.ylim[1]:
        raise UserError(f"--ylim {args.ylim[0]:g} {args.ylim[1]:g}: LOW must be below HIGH")
    return runs


def figure_list(args, runs):
    """[(path, the runs it shows, its title)]: the overlaid figure, and one per run with
    --separate. A file already there is refused (UserError) unless --force: it may be the
    user's."""
    stem, ext = os.path.splitext(args.output)
    figures = [(stem + ext, runs, args.title)]
    if args.separate:
        figures += [(f"{stem}-{name}{ext}", [(name, data)], args.run_title.replace("{run}", name))
                    for name, data in runs]
    there = [path for path, _, _ in figures if os.path.lexists(path)]
    if there and not args.force:
        more = f" (and {len(there) - 1} more)" if len(there) > 1 else ""
        raise UserError(f"'{there[0]}' exists{more}: give another -o, or add --force to replace "
                        f"{'it' if len(there) == 1 else 'them'}")
    return figures


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        runs = checked_runs(args)
        figures = figure_list(args, runs)
    except UserError as e:
        return fail(PROG, str(e))
    skip = args.skip if args.skip is not None else 0.05 * max(r[0][0][-1] for _, r in runs)
    import matplotlib  # only now: a bad CSV is reported without waiting for it
    if not args.show:
        matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    for path, these, title in figures:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        draw(ax, these, args.raw, skip, args.ylim)
        if title:
            ax.set_title(title)
        fig.tight_layout()
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            fig.savefig(path, dpi=120)
        except OSError as e:
            return fail(PROG, f"cannot write '{path}': {e.strerror}")
        print(f"wrote {path}")
        if not args.show:
            plt.close(fig)
    if args.show:
        plt.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
