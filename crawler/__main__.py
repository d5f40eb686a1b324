"""``python -m crawler``: the same as the ``hashtag-crawl`` console script."""

import sys

from crawler.cli import main

sys.exit(main())
