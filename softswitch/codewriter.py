"""An indenting line buffer for generated Python source.

Shared by the code generator mixins (codegen, codegen_parser, codegen_calc).
"""
from __future__ import annotations


class Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.indent = 0

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)
