"""``python -m train.evaluate_main`` runs hashtag-evaluate (as ``python -m train`` runs
hashtag-train). Its own module, not a ``__main__`` block in train.evaluate: train.cli imports
train.evaluate, which therefore must not import train.cli back."""

from train.cli import evaluate_main

raise SystemExit(evaluate_main())
