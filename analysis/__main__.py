"""`python -m analysis <command>`: see `analysis.cli`."""

import sys

from .cli import main

sys.exit(main(prog="python -m analysis"))
