"""``python tests/pipeline/slow_cli.py ARGS`` = ``emobench ARGS`` with the test fakes registered."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emobench.cli import main  # noqa: E402
from tests.pipeline import fakes  # noqa: E402

if __name__ == "__main__":
    fakes.register()
    sys.exit(main())
