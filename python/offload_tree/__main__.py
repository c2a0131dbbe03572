"""``python -m offload_tree`` and the ``offload-tree`` console script.

Kept tiny: the command lives in :mod:`offload_tree._cli`, imported on call so that
``import offload_tree.__main__`` (done by the console-script wrapper) stays cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``offload-tree`` command with ``argv`` (default: ``sys.argv[1:]``)."""
    from offload_tree._cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
