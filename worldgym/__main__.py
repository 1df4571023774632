"""`python -m worldgym ...`: the worldgym command, for environments without its script
on PATH (e.g. one launcher starting the same command on every host)."""

import sys

from worldgym.cli import main

sys.exit(main())
