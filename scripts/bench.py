"""Print worldgym's throughput table (same as `worldgym bench`)."""

import sys

from worldgym.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
