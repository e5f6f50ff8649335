"""``python -m shared.codegen``."""

import sys

from .cli import main

sys.exit(main())
