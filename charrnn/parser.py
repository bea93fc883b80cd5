"""The argument parser of every script of the project: an option is taken only as spelled in
full (no prefix abbreviations: `--iter 500` is not `--iters 500`), an unknown one is named
with the closest real option, and every error is one line on stderr with exit code 2.
Nothing here imports numpy."""
import argparse
import difflib
import sys


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        """A bad option: one line on stderr, exit code 2."""
        print(f"{self.prog}: error: {message}", file=sys.stderr, flush=True)
        sys.exit(2)

    def parse_args(self, args=None, namespace=None):
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            self.error(unknown_message(unknown, self.option_strings()))
        return parsed

    def option_strings(self):
        return [s for action in self._actions for s in action.option_strings]


def unknown_message(unknown, known):
    """What to say of arguments no option took: the first unknown option and the real option
    closest to it, or the first stray argument."""
    options = [u for u in unknown if u.startswith("-") and len(u) > 1]
    if not options:
        return f"unrecognized argument {unknown[0]!r}: this command takes no more arguments there"
    given = options[0].split("=", 1)[0]
    close = difflib.get_close_matches(given, known, n=1, cutoff=0.6)
    hint = f": did you mean {close[0]}?" if close else ": see --help for the options"
    return f"unknown option {given}{hint}"
