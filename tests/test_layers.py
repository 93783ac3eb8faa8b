"""The package's layers: primitives, then models and training, then the experiments.

A module imports only from its own layer or the ones below (BUILD.md, "Layout").
"""

import ast

import pytest

from conftest import REPO

PACKAGE = REPO / "keras_svae"
PRIMITIVES = {"imaginary_noise", "posterior", "networks", "input_gradient", "corruption", "data",
              "validation", "reductions", "random_state", "distribution",
              "seeding", "evaluation", "images"}
MODELS = {"vae", "deen", "training", "callbacks", "family", "family_training", "training_time"}


def imported(path):
    """The keras_svae modules a file imports, as dotted names below keras_svae."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keras_svae"):
            base = node.module.split(".")[1:]
            names |= {".".join(base + [a.name]) if not base or base == ["experiments"] else
                      ".".join(base) for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".", 1)[1] for a in node.names
                      if a.name.startswith("keras_svae.")}
    return names


def layer(name):
    top = name.split(".")[0]
    if top == "experiments":
        return 2
    if top in MODELS:
        return 1
    assert top in PRIMITIVES, f"{name}: add it to a layer in tests/test_layers.py and BUILD.md"
    return 0


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_imports_from_a_layer_above_its_own(path):
    relative = path.relative_to(PACKAGE).with_suffix("")
    name = ".".join(relative.parts)
    if name == "__init__":
        return
    own = layer("experiments" if name.startswith("experiments") else name)
    above = {n for n in imported(path) if layer(n) > own}
    assert not above, f"keras_svae/{relative}.py imports {sorted(above)} from above its layer"
