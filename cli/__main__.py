"""`python -m cli`: the `fieldbot` command."""

import sys

from cli.main import main

sys.exit(main())
