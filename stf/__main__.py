"""`python -m stf`."""

import sys

from stf.cli import main

sys.exit(main())
