"""``hashtag-build-dataset``: posts to a dataset directory (docs/architecture.md, Contract 2)."""
