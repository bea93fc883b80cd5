"""The cells a run can train, where their math lives, and their shapes."""
import importlib
import math

from min_char_rnn import NOISE_BLOCK


CELLS = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}  # --cell: what it trains
MODULES = {"rnn": "min_char_rnn", "lstm": "min_char_lstm", "gru": "min_char_gru"}
# Per cell: gate blocks in Wxh, Whh and bh, and the carried state's size, both in units of
# the hidden size (the shapes that init_params and zero_state give, known without allocating).
CELL_SIZES = {"rnn": (1, 1), "lstm": (4, 2), "gru": (3, 1)}


def cell_module(name):
    """The module that holds a cell's math (init_params, zero_state, lossFun, step_weights,
    step), imported only when asked for."""
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}: callers check it against CELLS")
    return importlib.import_module(MODULES[name])


def param_shapes(cell, vocab_size, hidden_size):
    """(shapes of the parameters, shape of the carried state) of a cell, without building them."""
    gates, carried = CELL_SIZES[cell]
    H, V = hidden_size, vocab_size
    return ({"Wxh": (gates * H, V), "Whh": (gates * H, H), "Why": (V, H), "bh": (gates * H, 1),
             "by": (V, 1)}, (carried * H, 1))


PROCESS_BYTES = 50 * 2 ** 20  # a Python process with numpy loaded, before any array (measured ~40 MiB)


def training_bytes(cell, vocab_size, hidden_size, seq_length):
    """About how much memory a training process needs: five flat vectors as long as all
    parameters (weights, Adagrad memory, gradients, the update's two scratch vectors), the
    per-step arrays of lossFun for one chunk, the sampler's block of noise, and the process."""
    shapes, _ = param_shapes(cell, vocab_size, hidden_size)
    n_params = sum(math.prod(shape) for shape in shapes.values())
    gates = CELL_SIZES[cell][0]
    return PROCESS_BYTES + 8 * (5 * n_params + 8 * seq_length * (gates * hidden_size + vocab_size)
                                + 2 * NOISE_BLOCK * vocab_size)
