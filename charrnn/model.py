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
    """What a model is: its cell and sizes."""
    cell: str
    vocab_size: int
    hidden_size: int

    def param_shapes(self):
        """Every parameter's name and shape, in the order of the flat vectors the loop keeps."""
        G, H, V = GATES[self.cell] * self.hidden_size, self.hidden_size, self.vocab_size
        return {"Wxh": (G, V), "Whh": (G, H), "Why": (V, H), "bh": (G, 1), "by": (V, 1)}

    def state_shape(self):
        """The shape of the state carried from chunk to chunk: h (above the LSTM's c), one column."""
        return (CARRIED[self.cell] * self.hidden_size, 1)

    def carried_parts(self):
        """[(rows of h, rows of c or None)] of each layer in the carried state."""
        H = self.hidden_size
        return [(slice(0, H), slice(H, 2 * H) if self.cell == "lstm" else None)]

    def optimizer_slots(self):
        """What the optimizer keeps per parameter: {the state's key: the checkpoint's prefix}
        (Adagrad's memory of squared gradients: state["mem"][k], field "m" + k)."""
        return {"mem": "m"}

    def parameter_count(self):
        return sum(math.prod(shape) for shape in self.param_shapes().values())

    def math(self):
        """The module whose init_params, zero_state, lossFun, step_weights and step train it."""
        return cell_module(self.cell)

    def name(self):
        """The model in words, for messages: "a vanilla RNN with hidden size 100"."""
        return f"a {CELLS[self.cell]} with hidden size {self.hidden_size}"

    def training_bytes(self, seq_length):
        """About how much memory a training process needs: five flat vectors as long as all
        parameters (weights, optimizer memory, gradients, the update's two scratch vectors), the
        per-step arrays of lossFun for one chunk, the sampler's block of noise, and the process."""
        gates_and_output = GATES[self.cell] * self.hidden_size + self.vocab_size
        return PROCESS_BYTES + 8 * (5 * self.parameter_count() + 8 * seq_length * gates_and_output
                                    + 2 * NOISE_BLOCK * self.vocab_size)


def spec_of(hparams, vocab_size):
    """The spec of the model a run's options (hparams, a checkpoint's or a new run's) describe."""
    return ModelSpec(hparams["cell"], vocab_size, hparams["hidden_size"])
