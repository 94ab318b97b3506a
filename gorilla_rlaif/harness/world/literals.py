"""What the planners read from an answer's syntax tree, shared by the three hubs' planners."""

from __future__ import annotations

import ast


def string_names(tree: ast.AST) -> dict[str, str]:
    """Names bound to a string literal anywhere in `tree` (`model_id = 'org/name'`): answers load
    ids through such names as often as through literals."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node.value.value
    return names
