"""Train/val/test assignment: deterministic from a hash, by post or by owner.

Hashing the split key (not shuffling with a seed) keeps a post in the same split when the
dataset is rebuilt with more posts, so a model's test set never leaks into a later training
set. ``by="owner"`` puts all of an account's posts in one split, so a model cannot score by
recognising an account's style. Afterwards, any label missing from train pulls one group
holding it into train: a label the model never trains on cannot be learned or fairly scored.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence

from preprocess.readers import Post

SPLITS = ("train", "val", "test")
SPLIT_BY = ("post", "owner")


def split_key(post: Post, by: str) -> str:
    """The unit that stays together: the owner (posts without one stand alone) or the post."""
    return post.owner if by == "owner" and post.owner else post.shortcode


def hash_fraction(key: str, salt: str = "") -> float:
    """A stable number in [0, 1) for ``key``."""
    digest = hashlib.sha256(f"{salt}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(
    posts: Sequence[Post], by: str, fractions: Mapping[str, float], salt: str = ""
) -> dict[str, list[Post]]:
    """Posts per split, in input order, with every label present in train; ``by`` and
    ``fractions`` as :class:`preprocess.settings.SplitsSection` checked them."""
    groups: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        groups[split_key(post, by)].append(post)
    position = {key: hash_fraction(key, salt) for key in groups}
    split_of = {key: _split_at(position[key], fractions) for key in groups}
    _cover_labels_in_train(groups, split_of, position)
    result: dict[str, list[Post]] = {name: [] for name in SPLITS}
    for post in posts:
        result[split_of[split_key(post, by)]].append(post)
    return result


def _split_at(position: float, fractions: Mapping[str, float]) -> str:
    edge = 0.0
    for name in SPLITS:
        edge += fractions[name]
        if position < edge:
            return name
    return SPLITS[0]  # only reachable through rounding of the fractions' sum


def _cover_labels_in_train(
    groups: Mapping[str, list[Post]], split_of: dict[str, str], position: Mapping[str, float]
) -> None:
    """Move, for each label absent from train, the lowest-hash group holding it into train."""
    holders: dict[int, list[str]] = defaultdict(list)
    for key in sorted(groups, key=position.__getitem__):
        for label in {label for post in groups[key] for label in post.labels}:
            holders[label].append(key)
    in_train = {
        label
        for key, split in split_of.items()
        if split == "train"
        for post in groups[key]
        for label in post.labels
    }
    for label in sorted(holders):
        if label not in in_train:
            key = holders[label][0]
            split_of[key] = "train"
            in_train.update(label for post in groups[key] for label in post.labels)
