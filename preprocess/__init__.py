"""``hashtag-build-dataset``: raw posts to the dataset directory (docs/architecture.md, Contract 2)."""
