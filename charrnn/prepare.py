"""Preparing a training run from the command line: a new run, a resumed one, one started from
another's weights (--init-from), or one already finished; every check before a file is
written, then the Run (charrnn/run.py) that the training loop is handed."""
import os
import shlex
import sys

from charrnn.checkpoint import load_checkpoint, new_state
from charrnn.logs import check_run_files, complete_closing_rows, discard_dead_logs, run_summary
from charrnn.options import HPARAM_DEFAULTS, ITERS_DEFAULT, given_hparams, seed_of, spec_of
from charrnn.run import Run, Settings
from charrnn.runfolder import checkpoint_path, own_run_dir, seed_folder
from charrnn.system import UserError, check_memory
from charrnn.text import check_covers, corpus_indices, read_corpus, split_heldout


class RunFinished(Exception):
    """The run asked for is already done: its summary is printed, nothing is touched, exit 0."""


def trainer_command(*args):
    """A command line of this trainer, as a shell would take it pasted: python min_char_rnn.py ..."""
    script = sys.argv[0] or "min_char_rnn.py"
    if not os.path.relpath(script).startswith(".."):
        script = os.path.relpath(script)
    return shlex.join(["python", script, *map(str, args)])


def resume_command(args, out_dir):
    """The exact command that continues the run in out_dir: its text, --resume, its folder, and
    the --iters and --encoding asked for; the run's own options are in its checkpoint."""
    iters = [] if args.iters is None else ["--iters", args.iters]
    encoding = [] if args.encoding == "utf-8" else ["--encoding", args.encoding]
    return trainer_command(args.text, "--resume", "--out", out_dir, *iters, *encoding)


def check_training_memory(spec, seq_length, runs=1):
    """Refuse models too large for this machine's memory: runs of them at once (--seeds
    trains --jobs runs side by side)."""
    what = (f"{runs} runs at once of " if runs > 1 else "") + (
        f"{spec.name()}, {spec.vocab_size} characters and seq_length {seq_length} "
        + ("need" if runs > 1 else "needs"))
    check_memory(runs * spec.training_bytes(seq_length), what,
                 "choose a smaller --hidden-size or --seq-length" + (" or fewer --jobs" if runs > 1 else ""))


def out_dir_of(args):
    """--out, or runs/seed-<seed>."""
    return args.out or seed_folder("runs", seed_of(args))


def target_iters(args, state=None):
    """The iterations a run goes to: --iters where given; else, resumed, the number it was
    started with; else the default."""
    if args.iters is not None:
        return args.iters
    if state is not None and state["iters"] is not None:
        return state["iters"]
    return ITERS_DEFAULT


def existing_run(args, corpus, out_dir):
    """The state of the run already in out_dir, to --resume, or RunFinished, or a UserError
    that says what to do instead."""
    if not args.resume:
        own_run_dir(out_dir)
    state = load_checkpoint(checkpoint_path(out_dir))
    check_covers(corpus, state["chars"], f"the run in '{out_dir}'")
    if state["text_sha256"] != corpus.sha256:
        raise UserError(f"the run in '{out_dir}' was trained on a different text (same characters, "
                        f"other content): give its text, or choose another --out")
    n, hp = state["n"], state["hparams"]
    differ = [f"--{k.replace('_', '-')} {hp[k]}, not {v}"
              for k, v in given_hparams(args).items() if v != hp[k]]
    if args.resume and differ:
        raise UserError(f"--resume: the run in '{out_dir}' has {differ[0]}; drop the option, or "
                        f"start a new run (without --resume) in another --out")
    iters = target_iters(args, state)
    if iters and n >= iters and (args.resume or not differ):
        complete_closing_rows(out_dir, state)  # a run killed after its last checkpoint gets them now
        summary = run_summary(out_dir, hp["seq_length"])
        if args.resume:
            raise RunFinished(f"--resume: the run in '{out_dir}' has done its {n} iterations, so --iters "
                              f"{iters} leaves 0 to do (give a larger --iters to train on); "
                              f"its last figures: {summary}")
        raise RunFinished(f"'{out_dir}' already holds this run, finished: {summary}. "
                          f"Nothing to do (--resume with a larger --iters trains on)")
    if not args.resume and differ:
        raise UserError(f"'{out_dir}' already holds a run with {differ[0]}: choose another --out "
                        f"(or drop the option and use --resume to continue that run)")
    if not args.resume:
        raise UserError(f"'{out_dir}' already holds a run stopped after {n} iterations: continue it "
                        f"with {resume_command(args, out_dir)}, or choose another --out")
    check_run_files(out_dir, state)
    return state


def init_from_start(args, corpus):
    """(starting weights, vocabulary, options) of a new run from --init-from's weights."""
    start = load_checkpoint(args.init_from)
    given = given_hparams(args)
    for k in SHAPING:
        if k in given and given[k] != start["hparams"][k]:
            raise UserError(f"--init-from: '{args.init_from}' holds a model with --{k.replace('_', '-')} "
                            f"{start['hparams'][k]}, not {given[k]}")
    check_covers(corpus, start["chars"], f"--init-from: the model in '{args.init_from}'")
    hp = {**HPARAM_DEFAULTS, **given, **{k: start["hparams"][k] for k in SHAPING}}
    return start["params"], start["chars"], hp


SHAPING = ("cell", "hidden_size", "num_layers")  # the options that give a model its parameters' shapes


def check_sizes(text_name, hp, data, val, state, ckpt):
    """The text must be long enough for the options (and the checkpoint's pointer inside it)."""
    held = f" after holding out {len(val)} for --val-frac {hp['val_frac']}" if len(val) else ""
    if len(data) < hp["seq_length"] + 2:
        raise UserError(f"'{text_name}' has {len(data)} characters to train on{held}; training needs "
                        f"at least seq_length + 2 = {hp['seq_length'] + 2}")
    part = len(data) // hp["batch_size"]  # each stream's part of the text
    if part < hp["seq_length"] + 2:
        raise UserError(f"--batch-size {hp['batch_size']} is too large for '{text_name}': its {len(data)} "
                        f"characters to train on{held} give each stream {part}, and a stream needs at "
                        f"least seq_length + 2 = {hp['seq_length'] + 2}; give at most --batch-size "
                        f"{len(data) // (hp['seq_length'] + 2)}")
    if hp["val_frac"] > 0 and len(val) < 2:
        raise UserError(f"--val-frac {hp['val_frac']} holds out {len(val)} of the {len(data) + len(val)} "
                        f"characters of '{text_name}'; the held-out loss needs at least 2")
    if state is not None and state["p"] >= part:
        where = "characters trained on" if part == len(data) else "characters of each stream's part"
        raise UserError(f"checkpoint '{ckpt}' is corrupt: field 'p' is {state['p']}, beyond the "
                        f"{part} {where}")


def start_state(args, corpus, out_dir):
    """(the state of a run already in out_dir or None, starting weights or None, vocabulary,
    options) for the run args ask for."""
    ckpt = checkpoint_path(out_dir)
    if args.resume and os.path.isdir(out_dir):  # a run still before its first checkpoint is in use
        own_run_dir(out_dir)
    if args.resume and not os.path.exists(ckpt):
        raise UserError(f"--resume: no checkpoint at '{ckpt}' (start the run without --resume)")
    if os.path.exists(ckpt):
        state = existing_run(args, corpus, out_dir)
        return state, None, state["chars"], state["hparams"]
    if args.init_from:
        return None, *init_from_start(args, corpus)
    return None, None, corpus.chars, {**HPARAM_DEFAULTS, **given_hparams(args)}


def prepare_run(args):
    """Check everything a run needs before writing a file; return the Run.

    A directory that holds a run is owned (own_run_dir) before anything in it is trusted:
    whether the run is finished, and what its checkpoint and log files say. A new run's
    directory is made and owned only once every check has passed. The text is read and
    indexed once.
    """
    if args.resume and args.init_from:
        raise UserError("--resume continues a run, --init-from starts a new one: give one of them")
    corpus = read_corpus(args.text, args.encoding)
    out_dir = out_dir_of(args)
    state, start, chars, hp = start_state(args, corpus, out_dir)
    data, val = split_heldout(corpus_indices(corpus, chars), hp["val_frac"])
    check_sizes(args.text, hp, data, val, state, checkpoint_path(out_dir))
    check_training_memory(spec_of(hp, len(chars)), hp["seq_length"])
    if state is None:  # a new run: the directory is made and owned only now, all checks passed
        own_run_dir(out_dir)
        if os.path.exists(checkpoint_path(out_dir)):  # another process made a run here while we checked
            raise UserError(f"'{out_dir}' already holds a run: continue it with "
                            f"{resume_command(args, out_dir)}, or choose another --out")
        discard_dead_logs(out_dir)
        state = new_state(chars, corpus.sha256, hp, target_iters(args), params=start)
    state["iters"] = target_iters(args, state)
    if hp["lr_schedule"] == "cosine" and not state["iters"]:
        raise UserError("--lr-schedule cosine decays over the run's --iters: give --iters above 0")
    settings = Settings(out_dir, args.checkpoint_every, args.print_interval, args.resume,
                        resume_command(args, out_dir))
    return Run(state, data, val if len(val) else None, settings)
