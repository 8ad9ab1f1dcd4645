"""`python -m idlgen` is the same program as the `idlgen` console script."""

import sys

from idlgen.cli import main

sys.exit(main())
