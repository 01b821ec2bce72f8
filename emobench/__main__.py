"""``python -m emobench`` is the same as the ``emobench`` command."""

import sys

from emobench.cli import main

if __name__ == "__main__":
    sys.exit(main())
