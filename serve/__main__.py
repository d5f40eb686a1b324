"""``python -m serve`` runs hashtag-serve."""

from serve.cli import main

raise SystemExit(main())
