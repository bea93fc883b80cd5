"""The runs of the two truncated-BPTT sections, for report_sections/plan.py's Plan:

    long-range/text-L<L>.txt                 the generated training text of each L (long_range_text.py)
    long-range/<cell>/L-<L>/seq-<T>/seed-N   each cell on it, truncated at T = 25 and at a T > L
    long-range/more/<cell>/seq-<T>/seed-N    longer training at one L (recall_more: L, the
                                             truncations, characters seen, seeds), on its own
                                             text long-range/text-L<L>-<characters>.txt
    truncation/<cell>/seq-<T>                the vanilla RNN and the LSTM on the report's text,
                                             10% held out, the same characters seen for every T

Every run sees the same number of characters (iterations = characters / --seq-length), so
along T only the truncation length changes (and with it, the number of updates). The
long-range texts are written by the report, from a fixed seed, before the runs start: the
same text every time (a text that differs from the one a run was trained on is refused).
"""
import os

from charrnn.checkpoint import load_checkpoint
from charrnn.system import UserError
from charrnn.text import text_sha256
from report_sections.long_range_text import make_text


TEXT_SEED = 1  # of the training texts; the recall measure reads lines of other seeds
LONG_RANGE_FIXED = dict(sample_every=0)  # no training samples: they are not used here


def long_range_text_path(plan, L, chars=None):
    """The training text of L for runs that see `chars` characters (None: recall_chars)."""
    return plan.path("long-range", f"text-L{L}.txt" if chars is None else f"text-L{L}-{chars}.txt")


def write_long_range_text(plan, L, chars=None, seqs=None):
    """Write the training text of L for runs of truncations seqs (None: recall_seq) that see
    chars characters (None: recall_chars), long enough that no run reaches its end, unless it
    is there already; returns (its path, its SHA-256)."""
    s = plan.s
    n_chars = (chars or s["recall_chars"]) + 2 * max(seqs or s["recall_seq"]) + L + 2
    text = make_text(L, n_chars, TEXT_SEED)
    path = long_range_text_path(plan, L, chars)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    return path, text_sha256(text)


def long_range_opts(plan, cell, T, seed):
    return dict(cell=cell, hidden_size=plan.s["recall_hidden"], seq_length=T, seed=seed,
                learning_rate=plan.s["recall_lr"], **LONG_RANGE_FIXED)


def long_range_out(plan, cell, L, T, seed):
    return plan.path("long-range", cell, f"L-{L}", f"seq-{T}", f"seed-{seed}")


def more_out(plan, cell, T, seed):
    """A run of the longer training at recall_more's L."""
    return plan.path("long-range", "more", cell, f"seq-{T}", f"seed-{seed}")


def long_range_command(text, out, iters, opts, resume=False):
    """The trainer's arguments for a long-range run (the text is the generated one)."""
    cmd = [text, "--resume"] if resume else [text] + [a for k, v in opts.items()
                                                     for a in (f"--{k.replace('_', '-')}", str(v))]
    return cmd + ["--iters", str(iters), "--out", out]


def long_range_check(out, sha, opts):
    """A run already in out must be of this text and these options."""
    ckpt = os.path.join(out, "checkpoint.npz")
    if os.path.exists(ckpt):
        state = load_checkpoint(ckpt)
        if state["text_sha256"] != sha or any(state["hparams"][k] != v for k, v in opts.items()):
            raise UserError(f"'{out}' holds a run with another text or other options than this "
                            f"report's: remove '{out}' and run again")


def long_range_train_to(text, out, iters, opts):
    """Yield the command that brings the run in out to iters iterations, if any."""
    ckpt = os.path.join(out, "checkpoint.npz")
    if not os.path.exists(ckpt):
        yield long_range_command(text, out, iters, opts)
    elif load_checkpoint(ckpt)["n"] < iters:
        yield long_range_command(text, out, iters, opts, resume=True)


def recall_job(plan, name, cell, T, seed, out, text, chars):
    """The job of one long-range run: cell on the text (path, SHA-256), truncated at T, the seed,
    in out, until it has seen chars characters."""
    opts, iters = long_range_opts(plan, cell, T, seed), chars // T
    long_range_check(out, text[1], opts)
    return plan.job(name, cell, [(out, iters, 0)], long_range_train_to(text[0], out, iters, opts))


def long_range_jobs(plan):
    """The jobs of the long-range dependency section: one per cell, L, truncation and seed,
    after the longer training of recall_more (the longest runs first)."""
    jobs, s = more_jobs(plan), plan.s
    for L in s["recall_L"]:
        text = write_long_range_text(plan, L)
        jobs += [recall_job(plan, f"long-range/{cell}/L-{L}/seq-{T}/seed-{seed}", cell, T, seed,
                            long_range_out(plan, cell, L, T, seed), text, s["recall_chars"])
                 for cell in ("lstm", "gru", "rnn") for T in s["recall_seq"] for seed in s["recall_seeds"]]
    return jobs


def more_jobs(plan):
    """The longer training of recall_more (none when it is None): each cell at one L, each of
    its truncations and seeds, recall_more["chars"] characters seen."""
    more = plan.s["recall_more"]
    if not more:
        return []
    text = write_long_range_text(plan, more["L"], more["chars"], more["seq"])
    return [recall_job(plan, f"long-range/more/{cell}/seq-{T}/seed-{seed}", cell, T, seed,
                       more_out(plan, cell, T, seed), text, more["chars"])
            for cell in ("lstm", "gru", "rnn") for T in more["seq"] for seed in more["seeds"]]


def truncation_opts(plan, cell, T):
    s = plan.s
    return plan.options(cell=cell, seq_length=T, val_frac=0.1, eval_every=s["trunc_eval_chars"] // T,
                        sample_every=0)


def truncation_out(plan, cell, T):
    return plan.path("truncation", cell, f"seq-{T}")


def truncation_jobs(plan):
    """The jobs of the truncation section: each cell and --seq-length, trunc_chars characters."""
    jobs, s = [], plan.s
    for cell in s["trunc_cells"]:
        for T in s["trunc_seq"]:
            out, opts = truncation_out(plan, cell, T), truncation_opts(plan, cell, T)
            iters = s["trunc_chars"] // T
            plan.check(out, opts)
            plan.note("truncation", plan.shown(out, iters, opts))
            jobs.append(plan.job(f"truncation/{cell}/seq-{T}", cell, [(out, iters, 0)],
                                 plan.train_to(out, iters, opts)))
    return jobs
