"""Prompt templates as files, loaded by name: `load_prompt("answer_system")`."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load_prompt(name: str) -> str:
    """The text of prompts/<name>.md; a missing name is a programming error, not a user one."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"prompt names are letters, digits and underscores, got {name!r}")
    path = resources.files(__package__).joinpath(f"{name}.md")
    if not path.is_file():
        raise ValueError(f"no prompt named {name!r} in prompts/")
    return path.read_text(encoding="utf-8").strip()
