"""Every default of the config is written once, in config.py (issue 14): no parameter, field or
constant elsewhere in the package repeats a config setting's name with its default value. Code
that needs a default reads it from the config's models (e.g. `ServeConfig().timeout`)."""

from __future__ import annotations

import ast
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from playbook import config

PACKAGE = Path(__file__).parents[1] / "src" / "playbook"

# The same name and value, for another thing than the config's setting.
NOT_THE_SETTING = {
    ("cli/app.py", "host"): "`playbook simulate`'s own server, on loopback like serve's",
    ("testing.py", "host"): "the test servers, on loopback",
    ("local_settings.py", "k"): "`playbook local`'s own job, light enough for the CLI to read",
}


def config_defaults() -> dict[str, set[str]]:
    """Setting name -> the repr of its default, over every model of config.py."""
    found: dict[str, set[str]] = {}
    for model in vars(config).values():
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, field in model.model_fields.items():
            default = field.default
            if default in (None, PydanticUndefined, (), "", False) or isinstance(
                default, BaseModel
            ):
                continue
            if isinstance(default, dict) and not default:
                continue
            found.setdefault(name, set()).add(repr(default))
    return found


def named_defaults(tree: ast.AST) -> list[tuple[str, ast.expr]]:
    """(name, default) of every parameter default, annotated field and constant in a module."""
    pairs: list[tuple[str, ast.expr]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = args.posonlyargs + args.args
            with_default = positional[len(positional) - len(args.defaults) :]
            pairs += [(a.arg, d) for a, d in zip(with_default, args.defaults, strict=True)]
            pairs += [
                (a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d
            ]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            pairs.append((node.target.id, node.value))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                pairs.append((target.id.lower(), node.value))
    return pairs


def literal(node: ast.expr) -> str | None:
    try:
        return repr(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError):
        return None


def test_every_config_default_is_written_once() -> None:
    defaults = config_defaults()
    assert {"timeout", "concurrency", "k", "port", "samples"} <= set(defaults)
    repeated = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where == "config.py":
            continue
        for name, value in named_defaults(ast.parse(path.read_text(encoding="utf-8"))):
            if literal(value) in defaults.get(name, ()) and (where, name) not in NOT_THE_SETTING:
                repeated.append(f"{where}:{value.lineno}: {name} = {literal(value)}")
    assert not repeated, "config defaults written again:\n" + "\n".join(repeated)


def test_the_check_sees_a_repeated_default() -> None:
    """The check above is not blind: a field repeating `[serve] timeout` is found."""
    source = "class Settings:\n    timeout: float = 60.0\n"
    found = [(n, literal(v)) for n, v in named_defaults(ast.parse(source))]
    assert ("timeout", "60.0") in found and "60.0" in config_defaults()["timeout"]
