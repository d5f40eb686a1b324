"""``hashtag-build-dataset``: raw posts to the dataset directory of DESIGN.md (Contract 2)."""
