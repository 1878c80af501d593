"""`python -m analysis <command>`: see `analysis.cli`."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the imports load: no traceback either
    sys.exit(130)

sys.exit(main(prog="python -m analysis"))
