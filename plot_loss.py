"""Plot the loss curves that min_char_rnn.py writes to loss.csv.

    python plot_loss.py runs/seed-*/loss.csv -o loss.png             # all runs in one figure
    python plot_loss.py runs/seed-*/loss.csv -o loss.png --separate  # and one figure per run
    python plot_loss.py runs/seed-1/loss.csv -o loss.pdf --raw       # with the per-iteration loss

Reads only the CSV files (columns iteration, loss, smooth_loss), and the val.csv
beside a loss.csv where the run held out part of its text (--val-frac): its
held-out bits per character go on a second axis. The output's extension (.png,
.pdf, .svg) chooses the format. Works without a display.
"""
import argparse
import csv
import os
import sys


class BadInput(Exception):
    """A file the user named cannot be plotted: one line on stderr, no traceback."""


def read_loss_csv(path, columns=("iteration", "loss", "smooth_loss"), kind="loss"):
    """The named columns (iterations, losses, smooth_losses by default) as lists of numbers."""
    if not os.path.isfile(path):
        raise BadInput(f"'{path}': no such file")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise BadInput(f"'{path}': cannot be read as CSV ({e})")
    if not rows:
        raise BadInput(f"'{path}' is empty")
    header = [c.strip() for c in rows[0]]
    if not set(columns) <= set(header):
        raise BadInput(f"'{path}' is not a {kind} log: its header needs {', '.join(columns)}")
    cols = [header.index(k) for k in columns]
    data = tuple([] for _ in columns)
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            for out, c in zip(data, cols):
                out.append(float(row[c]))
        except (IndexError, ValueError):
            if lineno == len(rows):  # a run killed mid-write may leave half a last line
                break
            raise BadInput(f"'{path}' line {lineno} is not a {kind} row: {','.join(row)!r}")
    n = min(len(d) for d in data)
    if n == 0:
        raise BadInput(f"'{path}' has no {kind} rows yet")
    return tuple(d[:n] for d in data)


def read_run(path):
    """A run's (loss columns, held-out columns or None): val.csv is read where it lies beside."""
    val = os.path.join(os.path.dirname(path), "val.csv")
    held_out = (read_loss_csv(val, ("iteration", "val_bpc"), "held-out")
                if os.path.basename(path) == "loss.csv" and os.path.isfile(val) else None)
    return read_loss_csv(path), held_out


def run_name(path):
    """runs/seed-1/loss.csv -> seed-1; samples/seed-1-loss.csv -> seed-1-loss."""
    stem = os.path.splitext(os.path.basename(path))[0]
    folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return folder if stem == "loss" and folder else stem


def draw(ax, runs, raw):
    """Smoothed loss per run on ax; held-out bits per character, dashed, on a second axis."""
    held = ax.twinx() if any(val for _, (_, val) in runs) else None
    for name, ((it, loss, smooth), val) in runs:
        line, = ax.plot(it, smooth, label=name, linewidth=1.5)
        if raw:
            ax.plot(it, loss, color=line.get_color(), alpha=0.2, linewidth=0.6)
        if val:
            held.plot(*val, color=line.get_color(), linestyle="--", marker=".", linewidth=1.2,
                      label=f"{name}, held-out")
    ax.set_xlabel("iteration")
    ax.set_ylabel("smoothed loss (sum of -log p over one chunk)")
    ax.grid(True, alpha=0.3)
    if held:
        held.set_ylabel("held-out bits per character (dashed)")
    return held


def main(argv=None):
    ap = argparse.ArgumentParser(description="Plot min_char_rnn.py loss curves from loss.csv files.")
    ap.add_argument("csv", nargs="+", help="loss.csv files, one per run")
    ap.add_argument("-o", "--output", default="loss.png",
                    help="figure to write; .png, .pdf or .svg (default loss.png)")
    ap.add_argument("--separate", action="store_true",
                    help="also write one figure per run, named OUTPUT-<run>.EXT")
    ap.add_argument("--raw", action="store_true", help="draw the per-iteration loss faintly behind")
    ap.add_argument("--title", default="Character-level RNN training loss", help="figure title")
    ap.add_argument("--show", action="store_true", help="also open a window")
    args = ap.parse_args(argv)

    try:
        runs = [(run_name(p), read_run(p)) for p in args.csv]
    except BadInput as e:
        print(f"plot_loss.py: error: {e}", file=sys.stderr)
        return 1
    import matplotlib  # only now: a bad CSV is reported without waiting for it
    if not args.show:
        matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    stem, ext = os.path.splitext(args.output)
    if ext.lower() not in (".png", ".pdf", ".svg"):
        stem, ext = args.output, ".png"
    figures = [(stem + ext, runs, args.title, True)]  # the overlaid figure has the legend
    if args.separate:  # one run each: the title names it
        figures += [(f"{stem}-{name}{ext}", [(name, data)], f"Figure {i}: run {i} ({name})", False)
                    for i, (name, data) in enumerate(runs, start=1)]
    for path, these, title, legend in figures:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        held = draw(ax, these, args.raw)
        ax.set_title(title)
        if legend:
            lines = ax.get_lines() + (held.get_lines() if held else [])
            ax.legend([l for l in lines if not l.get_label().startswith("_")],
                      [l.get_label() for l in lines if not l.get_label().startswith("_")], title="run")
        fig.tight_layout()
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            fig.savefig(path, dpi=120)
        except OSError as e:
            print(f"plot_loss.py: error: cannot write '{path}': {e.strerror}", file=sys.stderr)
            return 1
        print(f"wrote {path}")
        if not args.show:
            plt.close(fig)
    if args.show:
        plt.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
