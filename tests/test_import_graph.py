"""The import graph is the data flow: no cycles, no arrow from a lower layer up.

Read from the source (every import, at module top or inside a function), so a
cycle cannot hide in a function body. The layers, lowest first, are the ones
docs/reference/layout.md describes; a module may import its own layer and
those below it.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"worldgym": "worldgym", "envs": "worldgym.envs", "policies": "worldgym.policies"}
LAYERS = [
    ("base", ["worldgym.seeds", "worldgym.config", "worldgym.files", "worldgym.provenance",
              "worldgym.devices", "worldgym.paths", "worldgym.specs",
              "worldgym.video", "worldgym.fingerprints", "worldgym.plotting"]),
    ("tasks", ["worldgym.envs", "worldgym.options"]),  # options: the shared task choice
    ("models", ["worldgym.models"]),
    ("policies", ["worldgym.policies"]),
    ("rollouts", ["worldgym.rollouts"]),
    ("data", ["worldgym.data"]),
    ("training", ["worldgym.training"]),
    ("imagination", ["worldgym.imagination"]),
    ("evaluation", ["worldgym.evaluation"]),
    ("products", ["worldgym.report", "worldgym.rl", "worldgym.refine", "worldgym.bench",
                  "worldgym.runner_bench"]),
    ("commands", ["worldgym.commands", "worldgym.cli", "worldgym.__main__"]),
]  # fmt: skip
FRONT_DOOR = "worldgym"
"""The package itself: importing it registers the tasks and the imagined envs, so it
sits above everything it registers; no module imports it."""


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts))
            found[name.removesuffix(".__init__")] = path
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph = {name: set() for name in known}
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                found = resolve(target)
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def layer_of(name: str) -> int | None:
    def inside(prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    matches = [index for index, (_, prefixes) in enumerate(LAYERS) if any(map(inside, prefixes))]
    return max(matches) if matches else None


def cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root), on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child), on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_every_module_has_a_layer_and_no_import_runs_against_the_flow():
    graph = import_graph()
    unplaced = [name for name in graph if name != FRONT_DOOR and layer_of(name) is None]
    assert unplaced == [], "give these modules a layer in tests/test_import_graph.py"
    against = [f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} "
               f"({LAYERS[layer_of(target)][0]})"
               for name, targets in sorted(graph.items()) if name != FRONT_DOOR
               for target in sorted(targets)
               if target != FRONT_DOOR and layer_of(target) > layer_of(name)]  # fmt: skip
    assert against == []
    assert not any(FRONT_DOOR in targets for name, targets in graph.items())


def test_the_checker_sees_a_cycle_and_an_arrow_against_the_flow():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("worldgym.data.collect") < layer_of("worldgym.evaluation.paired")
    assert layer_of("worldgym.report.document") == layer_of("worldgym.rl.train")
