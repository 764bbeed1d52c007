"""What codegen.CodeGen gives its mixins (codegen_calc.CalcGen, codegen_headers.HeaderGen and
codegen_parser.ParserGen, which builds on HeaderGen).

The mixins are typed against this base instead of importing CodeGen, so codegen.py imports them
and nothing imports codegen.py back (no import cycle). The state is set by CodeGen.__init__;
the helper methods are declared here for the type checker and defined in CodeGen.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .codewriter import Writer
from .json_model import FieldInfo, HeaderInfo, Program


class GenBase:
    """State and helpers shared by CodeGen and its mixins (declared only; CodeGen defines them)."""

    p: Program
    ns: dict[str, Any]
    w: Writer
    err: dict[str, int]
    vsets: dict[str, Any]
    uses_state: list[str]
    PAYLOAD: int

    if TYPE_CHECKING:
        def _obj(self, prefix: str, obj: Any) -> str: ...

        def _field(self, ref: list[str]) -> FieldInfo: ...

        def _header(self, name: str) -> HeaderInfo: ...

        @staticmethod
        def _mask(width: int) -> int: ...

        def expr(self, node: Any, parser: bool = False) -> str: ...

        def _assign(self, dst: dict[str, Any], src_code: str) -> None: ...

        def primitive(self, prim: dict[str, Any], where: str, parser: bool = False) -> None: ...
