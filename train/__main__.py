"""``python -m train`` (and ``torchrun -m train``) runs hashtag-train."""

from train.cli import train_main

raise SystemExit(train_main())
