"""Entry point for `python -m softswitch` (same as the `softswitch` command)."""
import sys

from .cli import main

sys.exit(main())
