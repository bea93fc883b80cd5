"""Text from a trained model: --sample-from prints it, --compare writes greedy and multinomial
samples of each checkpoint side by side."""
import contextlib
import os
import signal
import sys

import numpy as np

from charrnn.checkpoint import load_checkpoint
from charrnn.logs import per_char
from charrnn.model import CELLS
from charrnn.options import seed_of, spec_of
from charrnn.system import UserError, write_error
from min_char_rnn import advance, sample_blocks


def primed_state(state, prime):
    """State after feeding all but the last prime character, that last one's index, and the prime."""
    chars = state["chars"]
    if prime is None:  # no prime: start a fresh line, or the first character of the vocabulary
        prime = "\n" if "\n" in chars else chars[0]
    if not prime:
        raise UserError("--prime must not be empty")
    missing = sorted(set(prime) - set(chars))
    if missing:
        raise UserError(f"--prime has characters the model's vocabulary lacks: {''.join(missing)!r}")
    ixs = [chars.index(c) for c in prime]
    cell = spec_of(state["hparams"], len(chars)).math()
    h = advance(cell.zero_state(state["hparams"]["hidden_size"]), ixs[:-1], state["params"], cell)
    return h, ixs[-1], prime


def generate(state, prime, length, strategy, temperature, seed):
    """(prime, the length characters generated after it): the characters come as an iterator
    of pieces, one per block of the sampler, so memory stays bounded however long the text."""
    h, seed_ix, prime = primed_state(state, prime)
    cell, chars = spec_of(state["hparams"], len(state["chars"])).math(), state["chars"]
    blocks = sample_blocks(h, seed_ix, length, state["params"], strategy=strategy,
                           temperature=temperature, rng=np.random.default_rng(seed), cell=cell)
    return prime, ("".join(chars[ix] for ix in block) for block in blocks)


def sample_from_checkpoint(args):
    """--sample-from: print the prime and the generated text; exit code."""
    state = load_checkpoint(args.sample_from)
    prime, pieces = generate(state, args.prime, args.length, args.strategy, args.temperature,
                             seed_of(args))
    sys.stdout.write(prime)
    for piece in pieces:
        sys.stdout.write(piece)
        if getattr(sys.stdout, "gone", False):  # the reader has what it wanted: stop, quietly
            return 128 + signal.SIGPIPE
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 128 + signal.SIGPIPE if getattr(sys.stdout, "gone", False) else 0


@contextlib.contextmanager
def replaced_file(path):
    """A text file, written in full to path.tmp and then renamed over path, so that nobody sees
    half of it; a failed write is a UserError naming path (see write_error)."""
    tmp = f"{path}.{os.getpid()}.tmp"  # two --compare at once must not share one
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            yield f
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError):
            raise write_error(path, e) from None
        raise


def unique_names(names):
    """names with -2, -3, ... added to repeats, in order: runs a/run and b/run give run and run-2."""
    seen, out = set(), []
    for name in names:
        new, k = name, 1
        while new in seen:
            k += 1
            new = f"{name}-{k}"
        seen.add(new)
        out.append(new)
    return out


def compare_strategies(args):
    """For each checkpoint, write greedy and multinomial samples side by side into a Markdown file,
    SAMPLES_DIR/<run>.md, <run> the checkpoint's folder (run-2.md, ... where two share a name).
    A file already there is replaced only with --force: it may be the user's, or edited since."""
    states = [(path, load_checkpoint(path)) for path in args.compare]  # all checked before writing
    for _, state in states:
        primed_state(state, args.prime)
    if os.path.exists(args.samples_dir) and not os.path.isdir(args.samples_dir):
        raise UserError(f"--samples-dir '{args.samples_dir}' is a file, not a directory")
    names = unique_names([os.path.basename(os.path.dirname(os.path.abspath(p))) for p in args.compare])
    outs = [os.path.join(args.samples_dir, f"{name}.md") for name in names]
    there = [out for out in outs if os.path.lexists(out)]
    if there and not args.force:
        more = f" (and {len(there) - 1} more)" if len(there) > 1 else ""
        raise UserError(f"'{there[0]}' exists{more}: give another --samples-dir, or add --force to "
                        f"replace {'it' if len(there) == 1 else 'them'}")
    try:
        os.makedirs(args.samples_dir, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot write to '{args.samples_dir}': {e.strerror}") from None
    for (path, state), name, out in zip(states, names, outs):
        with replaced_file(out) as f:
            write_comparison(f, args, name, path, state)
        print(f"wrote {out}")
    return 0


def write_comparison(f, args, name, path, state):
    """The Markdown page of one checkpoint: greedy, then multinomial, from the same prime."""
    hp, seed = state["hparams"], seed_of(args)
    prime, greedy = generate(state, args.prime, args.length, "greedy", args.temperature, seed)
    _, multi = generate(state, args.prime, args.length, "multinomial", args.temperature, seed)
    f.write(f"# {name}: greedy vs multinomial sampling\n\n"
            f"Model: `{path}`, {CELLS[hp['cell']]}, after {state['n']} iterations (smoothed loss "
            f"{state['smooth_loss']:.2f}, {per_char(state['smooth_loss'], hp['seq_length'])}; hidden size "
            f"{hp['hidden_size']}, seq_length {hp['seq_length']}, learning rate {hp['learning_rate']}, "
            f"training seed {hp['seed']}).\n\n"
            f"Both texts start from the same prime {prime!r} and a zero hidden state, {args.length} "
            f"generated characters each; temperature {args.temperature}, sampling seed {seed}.\n\n"
            f"## Greedy (argmax at every step)\n\n```\n{prime}")
    f.writelines(greedy)
    f.write(f"\n```\n\n## Multinomial (drawn from softmax(y / {args.temperature}))\n\n```\n{prime}")
    f.writelines(multi)
    f.write("\n```\n")
