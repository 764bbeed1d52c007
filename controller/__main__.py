"""`python -m controller` is fdirctl.

Same entry point as the planned `fdirctl = controller.cli:main` script.
"""
import sys

from controller.cli import main

sys.exit(main())
