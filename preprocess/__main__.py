"""``python -m preprocess``: the same as the ``hashtag-build-dataset`` console script."""

import sys

from preprocess.cli import main

sys.exit(main())
