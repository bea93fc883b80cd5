"""The model spec: one description of a model, from which its parameters' names and shapes,
its carried state, what its optimizer keeps and its math module all follow. The checkpoint's
fields (charrnn/checkpoint.py) are built from it, so save, load, validation and upgrades read
one table.
"""
import importlib
import math
from dataclasses import dataclass

from min_char_rnn import NOISE_BLOCK


CELLS = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}  # --cell: what it trains
MODULES = {"rnn": "min_char_rnn", "lstm": "min_char_lstm", "gru": "min_char_gru"}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # blocks of H rows in Wxh, Whh and bh
CARRIED = {"rnn": 1, "lstm": 2, "gru": 1}  # the carried state, in units of H: h (and the LSTM's c)
PROCESS_BYTES = 50 * 2 ** 20  # a Python process with numpy loaded, before any array (measured ~40 MiB)


def cell_module(name):
    """The module that holds a cell's math (init_params, zero_state, lossFun, step_weights,
    step), imported only when asked for."""
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}: callers check it against CELLS")
    return importlib.import_module(MODULES[name])


@dataclass(frozen=True)
class ModelSpec:
    """What a model is: its cell and sizes, and, in the deep mode (min_char_deep.py), its layers,
    its streams side by side, its optimizer and its numbers' type."""
    cell: str
    vocab_size: int
    hidden_size: int
    num_layers: int = 1
    batch_size: int = 1
    optimizer: str = "adagrad"
    dtype: str = "float64"
    deep: bool = False  # trained by min_char_deep.py (any deep-mode option given), not the classic loop

    def param_shapes(self):
        """Every parameter's name and shape, in the order of the flat vectors the loop keeps."""
        if self.deep:
            return self.math().param_shapes()
        G, H, V = GATES[self.cell] * self.hidden_size, self.hidden_size, self.vocab_size
        return {"Wxh": (G, V), "Whh": (G, H), "Why": (V, H), "bh": (G, 1), "by": (V, 1)}

    def state_size(self):
        """The carried state of one stream, in numbers: each layer's h (and an LSTM's c)."""
        return self.num_layers * CARRIED[self.cell] * self.hidden_size

    def state_shape(self):
        """The shape of the state carried from chunk to chunk: a column (h above the LSTM's c)
        in the classic script; a row per stream in the deep mode."""
        return (self.batch_size, self.state_size()) if self.deep else (self.state_size(), 1)

    def carried_parts(self):
        """[(columns of h, columns of c or None)] of each layer in a stream's carried state,
        the top layer first (min_char_deep's layout; the classic's one layer is the same)."""
        H, size = self.hidden_size, CARRIED[self.cell] * self.hidden_size
        return [(slice(k * size, k * size + H), slice(k * size + H, k * size + 2 * H) if self.cell == "lstm"
                 else None) for k in range(self.num_layers)]

    def optimizer_slots(self):
        """What the optimizer keeps per parameter: {the state's key: the checkpoint's prefix}.
        Adagrad's memory of squared gradients (RMSprop's and Adam's running mean of them) is
        state["mem"][k], field "m" + k; Adam's running mean of the gradients, state["mom"][k]."""
        return {"mem": "m", "mom": "mom"} if self.optimizer == "adam" else {"mem": "m"}

    def parameter_count(self):
        return sum(math.prod(shape) for shape in self.param_shapes().values())

    def math(self):
        """What trains it: the cell's module (init_params, zero_state, lossFun, step_weights, step)
        in the classic script; in the deep mode a min_char_deep.Stack, which has the same and
        trains with min_char_deep.train."""
        if not self.deep:
            return cell_module(self.cell)
        from min_char_deep import Stack
        return Stack(self.cell, self.vocab_size, self.hidden_size, self.num_layers, self.dtype)

    def name(self):
        """The model in words, for messages: "a vanilla RNN with hidden size 100"."""
        layers = f"{self.num_layers} layers of " if self.num_layers > 1 else ""
        return f"{'an' if layers else 'a'} {layers}{CELLS[self.cell]} with hidden size {self.hidden_size}"

    def training_bytes(self, seq_length):
        """About how much memory a training process needs: six vectors as long as all parameters
        (weights, optimizer memory and momentum, gradients, the update's scratch), the arrays of
        one chunk's forward and backward pass for every stream, the sampler's block of noise,
        and the process."""
        width = self.num_layers * (GATES[self.cell] + 3) * self.hidden_size + self.vocab_size
        per_chunk = 8 * seq_length * self.batch_size * width
        item = 4 if self.dtype == "float32" else 8
        return PROCESS_BYTES + item * (6 * self.parameter_count() + per_chunk
                                       + 2 * NOISE_BLOCK * self.vocab_size)

