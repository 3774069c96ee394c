"""``python -m svclab`` runs the CLI."""

import sys

from svclab.cli import main

sys.exit(main())
