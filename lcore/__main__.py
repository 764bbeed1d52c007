"""`python -m lcore`: run one lcore worker (see lcore/cli.py for the arguments)."""
import sys

from lcore.cli import main

sys.exit(main())
