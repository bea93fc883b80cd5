"""The shape of the code (issue 21): the imports between the project's modules form no circle
outside the entry points, `python min_char_rnn.py` loads the script once with every cell, no
function is longer than 60 lines (a cell's lossFun 110), and every script's --help exits 0."""
import ast
import os
import subprocess
import sys

import pytest
from helpers import ROOT, SCRIPT, write_text


def project_files():
    """The project's Python files outside tests/, relative to ROOT."""
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    files = out or [os.path.relpath(os.path.join(d, f), ROOT) for d, _, fs in os.walk(ROOT)
                    for f in fs if f.endswith(".py") and ".venv" not in d]
    return sorted(f for f in files if not f.startswith("tests/") and os.path.exists(os.path.join(ROOT, f)))


def module_name(path):
    """charrnn/run.py -> charrnn.run; min_char_rnn.py -> min_char_rnn; a package's __init__ -> the package."""
    name = path.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def is_entry_point(node):
    """An `if __name__ == "__main__":` block."""
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))


def imported_modules(tree, known):
    """The project modules a module imports anywhere but in its entry points."""
    found, todo = set(), [n for n in tree.body if not is_entry_point(n)]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        todo += [child for child in ast.iter_child_nodes(node) if not is_entry_point(child)]
    return {m for m in found if m in known}


def import_graph():
    files = project_files()
    known = {module_name(f) for f in files}
    graph = {}
    for f in files:
        with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
            graph[module_name(f)] = imported_modules(ast.parse(fh.read()), known) - {module_name(f)}
    return graph


def a_circle(graph):
    """A list of modules that import each other in a circle, or None."""
    state, stack = {}, []
    for start in graph:
        if start in state:
            continue
        todo = [(start, iter(sorted(graph[start])))]
        state[start], stack = "open", [start]
        while todo:
            node, children = todo[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                todo.pop()
                stack.pop()
            elif state.get(child) == "open":
                return stack[stack.index(child):] + [child]
            elif child not in state:
                state[child] = "open"
                stack.append(child)
                todo.append((child, iter(sorted(graph.get(child, ())))))
    return None


def test_the_imports_form_no_circle_outside_the_entry_points():
    graph = import_graph()
    assert graph["charrnn.prepare"] and graph["charrnn.run"]  # the graph was read at all
    assert "charrnn.cli" not in graph["min_char_rnn"]  # the math imports the harness only to start it
    assert not any(m.startswith("charrnn") for m in graph["min_char_lstm"] | graph["min_char_gru"])
    assert a_circle(graph) is None, a_circle(graph)


def test_a_circle_is_found():
    """The check itself: a circle of three is found, a tree is not."""
    assert a_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert a_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_script_is_loaded_once_with_every_cell(tmp_path, cell):
    """python -v names every module it loads: min_char_rnn must not be among them (the file
    runs as __main__), and the cell's own module is loaded once."""
    text = write_text(tmp_path)
    r = subprocess.run([sys.executable, "-v", SCRIPT, text, "--cell", cell, "--iters", "2",
                        "--hidden-size", "4", "--out", str(tmp_path / "run")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    loaded = [line.split("'")[1] for line in r.stderr.splitlines() if line.startswith("import '")]
    assert "charrnn.cli" in loaded  # the listing is there
    assert "min_char_rnn" not in loaded
    if cell != "rnn":
        assert loaded.count(f"min_char_{cell}") == 1


def test_no_function_is_longer_than_60_lines():
    long = []
    for f in project_files():
        with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > (110 if node.name == "lossFun" else 60):
                    long.append(f"{f}:{node.name} ({lines} lines)")
    assert not long


def scripts():
    """Every file of the project that runs as a script."""
    out = []
    for f in project_files():
        with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
            if any(is_entry_point(n) for n in ast.parse(fh.read()).body):
                out.append(f)
    return out


def test_every_script_says_how_to_use_it_and_exits_0():
    found = scripts()
    named = {"min_char_rnn.py", "min_char_lstm.py", "min_char_gru.py", "plot_loss.py", "report.py"}
    assert named <= set(found)
    for f in found:
        r = subprocess.run([sys.executable, os.path.join(ROOT, f), "--help"], capture_output=True, text=True,
                           timeout=60, cwd=ROOT)
        assert r.returncode == 0 and r.stdout.strip() and "Traceback" not in r.stderr, (f, r.stderr)
