"""Every option of min_char_rnn.py, declared once: one table gives the argparse options with
their help, the defaults, and the checks a checkpoint's recorded options must pass."""
import argparse
import math

from charrnn.model import CELLS, ModelSpec
from charrnn.parser import Parser


INT_MAX = 2 ** 63 - 1  # a checkpoint stores integers as int64: no integer option may exceed it
# Above this the Gumbel noise times T would overflow for some draws; long before it, every
# character is about equally likely whatever the model says.
TEMPERATURE_MAX = 1e6
# A training sample is built in memory and printed whole (--length streams any length).
SAMPLE_LENGTH_MAX = 10 ** 6


class Number:
    """A finite number of `kind` that is > low (strict) or >= low, and <= high; an integer is at
    most INT_MAX unless high says less (a run stores it as int64 and must read it back).
    Called on a string, it is an argparse type; problem(v) checks a value read back."""

    def __init__(self, kind, low, strict, what, high=None, high_strict=False):
        self.kind, self.low, self.strict, self.what = kind, low, strict, what
        self.high = INT_MAX if high is None and kind is int else high
        self.high_strict = high_strict

    def problem(self, v):
        """What is wrong with the value v, or None."""
        if not math.isfinite(v) or v < self.low or (self.strict and v == self.low):
            return f"must be {'>' if self.strict else '>='} {self.low} ({self.what})"
        if self.high is not None and (v > self.high or (self.high_strict and v == self.high)):
            return f"must be {'<' if self.high_strict else '<='} {self.high} ({self.what})"
        return None

    def __call__(self, s):
        try:
            v = self.kind(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
        why = self.problem(v)
        if why:
            raise argparse.ArgumentTypeError(f"{why}, got {s}")
        return v


def number(kind, low, strict, what, high=None, high_strict=False):
    """An argparse type (see Number)."""
    return Number(kind, low, strict, what, high, high_strict)


DEEP = "the deep mode (every option off by default: the classic script)"

# (flags, group, default, fixed, argparse keywords). fixed: 0 for an option of one command, or
# for an option fixed for the life of a run (recorded in its checkpoint) the checkpoint format
# that added it (a checkpoint of an older format was made with its default). A default of a
# fixed option is the run's: the parser gives None where it is not given, so that a resumed run
# can tell what was asked for. {default} in a help text shows it.
OPTIONS = [
    (("text",), None, None, 0, dict(nargs="?", help="training text (UTF-8 unless --encoding)")),
    (("--cell",), "training", "rnn", 2, dict(
        choices=tuple(CELLS),
        help="rnn: the vanilla RNN; lstm or gru: a gated cell, trained by the same loop "
             "(default {default})")),
    (("--hidden-size",), "training", 100, 1, dict(
        metavar="N", type=number(int, 1, False, "hidden units"),
        help="number of hidden units (default {default})")),
    (("--seq-length",), "training", 25, 1, dict(
        metavar="N", type=number(int, 1, False, "characters per chunk"),
        help="characters to unroll the RNN for, per iteration: the truncation length of BPTT "
             "(default {default})")),
    (("--learning-rate",), "training", 0.1, 1, dict(
        metavar="X", type=number(float, 0, True, "the optimizer's step"),
        help="learning rate of the optimizer (Adagrad's by default) (default {default})")),
    (("--iters",), "training", None, 0, dict(
        metavar="N", type=number(int, 0, False, "0 runs until interrupted"),
        help="total iterations of the run; 0 runs until interrupted (default 100000; with --resume, "
             "the number the run was started with)")),
    (("--seed",), "training", 1, 1, dict(
        metavar="N", type=number(int, 0, False, "a seed"),
        help="random seed of the weights and training samples; also of the draws of "
             "--sample-from and --compare (default {default})")),
    (("--out",), "training", None, 0, dict(
        metavar="DIR", help="output directory (default runs/seed-<seed>; with --seeds, runs)")),
    (("--resume",), "training", False, 0, dict(
        action="store_true", help="continue the run in the output directory exactly where it stopped")),
    (("--init-from",), "training", None, 0, dict(
        metavar="CHECKPOINT",
        help="start a new run from CHECKPOINT's weights only (its cell and hidden size), with "
             "fresh Adagrad memory, a zero state and the data pointer at 0: what reloading the "
             "weights does, unlike --resume")),
    (("--sample-every",), "training", 100, 1, dict(
        metavar="N", type=number(int, 0, False, "0 never samples"),
        help="draw a training sample every N iterations; 0 never (default {default})")),
    (("--sample-length",), "training", 200, 1, dict(
        metavar="N", type=number(int, 1, False, "characters", SAMPLE_LENGTH_MAX),
        help="characters in each training sample (default {default})")),
    (("--log-every",), "training", 100, 1, dict(
        metavar="N", type=number(int, 1, False, "iterations"),
        help="write a loss.csv row every N iterations (default {default})")),
    (("--val-frac",), "training", 0.0, 2, dict(
        metavar="F", type=number(float, 0, False, "a fraction of the text", 1, True),
        help="hold out the last fraction F of the text: never trained on, it gives the held-out "
             "bits per character in val.csv (default {default}: none)")),
    (("--eval-every",), "training", 20000, 2, dict(
        metavar="N", type=number(int, 1, False, "iterations"),
        help="with --val-frac, evaluate the held-out text every N iterations and at the end "
             "(default {default})")),
    (("--checkpoint-every",), "training", 1000, 0, dict(
        metavar="N", type=number(int, 1, False, "iterations"),
        help="save checkpoint.npz every N iterations, besides at the end (default {default})")),
    (("--encoding",), "training", "utf-8", 0, dict(
        metavar="NAME", help="encoding of the text (default {default})")),
    (("--print-interval",), "training", 2.0, 0, dict(
        metavar="S", type=number(float, 0, False, "seconds"),
        help="print a loss line or sample at most once every S seconds; the files get all of "
             "them (default {default:g}; 0 prints every one)")),
    (("--num-layers",), DEEP, 1, 5, dict(
        metavar="L", type=number(int, 1, False, "layers"),
        help="stack L layers of the cell (default {default})")),
    (("--batch-size",), DEEP, 1, 5, dict(
        metavar="B", type=number(int, 1, False, "streams"),
        help="train on B streams side by side, each reading its own part of the text and carrying its "
             "own state; the loss stays per chunk of one stream, the mean over the B (default {default})")),
    (("--dropout",), DEEP, 0.0, 5, dict(
        metavar="P", type=number(float, 0, False, "a probability", 1, True),
        help="drop each input of the layers above the first, and of the output layer, with "
             "probability P while training (default {default}: none)")),
    (("--optimizer",), DEEP, "adagrad", 5, dict(
        choices=("adagrad", "adam", "rmsprop"),
        help="adagrad: the classic; adam: with bias correction (beta1 0.9, beta2 0.999); rmsprop "
             "(decay 0.95). --learning-rate is its step (default {default})")),
    (("--lr-schedule",), DEEP, "constant", 5, dict(
        choices=("constant", "cosine"),
        help="cosine: from --learning-rate down to --lr-floor of it at --iters, after --warmup "
             "(default {default})")),
    (("--warmup",), DEEP, 0, 5, dict(
        metavar="N", type=number(int, 0, False, "iterations"),
        help="raise the learning rate linearly from 0 over the first N iterations (default {default})")),
    (("--lr-floor",), DEEP, 0.1, 5, dict(
        metavar="F", type=number(float, 0, False, "a fraction", 1),
        help="with --lr-schedule cosine, the end's learning rate, as a fraction of --learning-rate "
             "(default {default})")),
    (("--init",), DEEP, "classic", 5, dict(
        choices=("classic", "scaled"),
        help="classic: N(0,1) * 0.01, biases 0 (the forget gate's 1); scaled: a deep stack's, see "
             "docs/deep.md (default {default})")),
    (("--dtype",), DEEP, "float64", 5, dict(
        choices=("float64", "float32"),
        help="the numbers of the weights and of training; float32 is about twice as fast "
             "(default {default})")),
    (("--seeds",), "several seeds", None, 0, dict(
        type=number(int, 0, False, "a seed"), nargs="+", metavar="S",
        help="train one run per seed, in parallel processes, into OUT/seed-<s>/, and end with a "
             "table of their final and lowest smoothed losses")),
    (("--jobs",), "several seeds", None, 0, dict(
        metavar="N", type=number(int, 1, False, "processes"),
        help="parallel runs with --seeds (default: the number of CPU cores)")),
    (("--status-interval",), "several seeds", 10.0, 0, dict(
        metavar="S", type=number(float, 0, False, "seconds"),
        help="seconds between status lines with --seeds (default {default:g})")),
    (("--sample-from",), "sampling from a trained model", None, 0, dict(
        metavar="CHECKPOINT", help="print text generated from CHECKPOINT instead of training")),
    (("--compare",), "sampling from a trained model", None, 0, dict(
        nargs="+", metavar="CHECKPOINT",
        help="write greedy and multinomial samples of each CHECKPOINT to SAMPLES_DIR/<run>.md; "
             "uses --prime, --length, --temperature and --seed")),
    (("--samples-dir",), "sampling from a trained model", "comparisons", 0, dict(
        metavar="DIR", help="where --compare writes (default {default})")),
    (("--force",), "sampling from a trained model", False, 0, dict(
        action="store_true", help="let --compare replace files of the same names in SAMPLES_DIR "
                                  "(without it, an existing file is never overwritten)")),
    (("--strategy",), "sampling from a trained model", "multinomial", 0, dict(
        choices=("multinomial", "greedy"),
        help="multinomial draws from softmax(y / temperature) with --seed; greedy takes the "
             "argmax, so it ignores --temperature and --seed (default {default})")),
    (("--length",), "sampling from a trained model", 500, 0, dict(
        metavar="N", type=number(int, 1, False, "characters"),
        help="characters to generate (default {default})")),
    (("--temperature",), "sampling from a trained model", 1.0, 0, dict(
        metavar="T", type=number(float, 0, True, "softmax temperature", TEMPERATURE_MAX),
        help="divide the scores by this before the softmax (default {default})")),
    (("--prime",), "sampling from a trained model", None, 0, dict(
        metavar="TEXT", help="text fed through the network before generating (default a newline)")),
    (("--outcome",), None, None, 0, dict(
        metavar="FILE", help=argparse.SUPPRESS)),  # for charrnn.pool: the outcome as JSON
]


def dest(flags):
    return flags[-1].lstrip("-").replace("-", "_")


ITERS_DEFAULT = 100000  # --iters of a new run that does not give it

# The options that change the numbers a run produces: fixed for the life of a run, recorded
# in its checkpoint.
HPARAM_DEFAULTS = {dest(flags): default for flags, _, default, fixed, _ in OPTIONS if fixed}
FIXED_SINCE = {dest(flags): fixed for flags, _, _, fixed, _ in OPTIONS if fixed}  # the format that added it
CHECKS = {dest(flags): kw.get("type") or kw.get("choices") for flags, _, _, fixed, kw in OPTIONS if fixed}


def option_problem(name, value):
    """What is wrong with a fixed option's value read back from a checkpoint, or None: the
    bounds and choices that the command line holds it to."""
    check = CHECKS[name]
    if isinstance(check, Number):
        return check.problem(value)
    if check is not None and value not in check:
        return f"not one of {', '.join(check)}"
    return None


DEEP_OPTIONS = [dest(flags) for flags, group, *_ in OPTIONS if group == DEEP]


def is_deep(hparams):
    """Whether a run's options ask for the deep mode: any of its options off its default."""
    return any(hparams[k] != HPARAM_DEFAULTS[k] for k in DEEP_OPTIONS)


def spec_of(hparams, vocab_size):
    """The spec of the model a run's options (hparams, a checkpoint's or a new run's) describe."""
    return ModelSpec(hparams["cell"], vocab_size, hparams["hidden_size"], hparams["num_layers"],
                     hparams["batch_size"], hparams["optimizer"], hparams["dtype"], is_deep(hparams))


def seed_of(args):
    """--seed, or its default: training, --sample-from and --compare all use it."""
    return HPARAM_DEFAULTS["seed"] if args.seed is None else args.seed


def given_hparams(args):
    """The options fixed for a run that the command line gives."""
    return {k: getattr(args, k) for k in HPARAM_DEFAULTS if getattr(args, k) is not None}


# What each way of running uses, besides --seed: an option given to another is refused, never
# silently ignored.
SAMPLING_USES = {"sample_from": ("sample_from", "strategy", "length", "temperature", "prime"),
                 "compare": ("compare", "samples_dir", "force", "length", "temperature", "prime")}


def misplaced_options(args, given):
    """One line naming the options given (their dests, in order) that what args asks for does not use,
    or None."""
    modes = [mode for mode in SAMPLING_USES if mode in given]
    if len(modes) > 1:
        return "give one of --sample-from and --compare"
    if modes:
        uses, what = {"seed", "outcome", *SAMPLING_USES[modes[0]]}, f"--{modes[0].replace('_', '-')}"
    else:
        trains = (None, "training", DEEP, "several seeds")
        uses = {dest(flags) for flags, group, *_ in OPTIONS if group in trains}
        uses.add("seed")
        what = "training"
    extra = [f"--{d.replace('_', '-')}" for d in given if d not in uses and d != "text"]
    if not extra:
        return None
    return (f"{', '.join(extra)} {'is' if len(extra) == 1 else 'are'} not used by {what}: drop "
            f"{'it' if len(extra) == 1 else 'them'}")


def build_parser(defaults=True):
    """The command line's parser. Without defaults, it gives only the options given."""
    ap = Parser(
        description="Train a character-level vanilla RNN, LSTM or GRU (truncated BPTT, Adagrad) "
                    "on a text file, or sample from a trained checkpoint.",
        epilog="Rerunning a command whose run has finished only reports it; a run that stopped "
               "part-way goes on with --resume.")
    groups = {}
    for flags, group, default, fixed, kw in OPTIONS:
        if group == "training" and group not in groups:
            groups[group] = ap.add_argument_group("training (defaults are the classic script's)")
        elif group and group not in groups:
            groups[group] = ap.add_argument_group(group)
        kw = dict(kw, help=kw["help"].format(default=default) if kw["help"] else kw["help"])
        default = (None if fixed else default) if defaults else argparse.SUPPRESS
        (groups[group] if group else ap).add_argument(*flags, default=default, **kw)
    return ap
