"""Seeded, deterministic demo posts: the ground truth behind the demo site and later stages' tests.

Construction draws every post's skeleton (owner, topic, language, tags, repost links, size,
date) as small numpy arrays - a few MB for 50,000 posts - from which the tag and profile
indexes are built. Captions and images are written on demand from ``(seed, index)``, so
nothing large is held and any post can be produced alone, in any order, on any thread.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TypedDict, Unpack

import numpy as np
from PIL import Image

from demo_site import captions, pictures
from demo_site.settings import DemoSettings
from demo_site.topics import LANGUAGES, LOCAL_TAG_LANGUAGES, SPAM_TAGS, TOPICS, Topic
from runtime.hashtags import extract_hashtags
from runtime.settings import validate

SIZES = ((320, 320), (400, 400), (480, 480), (640, 480), (480, 600), (640, 640))
PK_BASE = 3_100_000_000_000_000_000
PK_STEP = 8  # room for the carousel children's ids, pk + 1 .. pk + 3
OWNER_PK_BASE = 5_000_000_000
FIRST_TAKEN_AT = 1_717_200_000  # 2024-06-01, so the posts span about two years
SPAN_SECONDS = 2 * 365 * 86_400
SHORTCODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Chance that each of a topic's tags (in Topic.tags order) is on a post of that topic.
TAG_CHANCES = (0.85, 0.55, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.2)
SPAMMY_OWNER_SHARE, SPAM_CHANCE_SPAMMY, SPAM_CHANCE_OTHER = 0.25, 0.45, 0.02
LOCAL_TAG_CHANCE = 0.6
OWN_TOPIC_SHARE = 0.8  # the rest of an account's posts are on a random topic
SAME_OWNER_REPOST_SHARE = 0.5  # "throwback" reposts; the rest repost someone else
FIRST_NAMES = (
    "ana",
    "ben",
    "chloe",
    "dani",
    "emma",
    "felix",
    "gabi",
    "hana",
    "ivan",
    "jun",
    "kai",
    "lea",
    "mia",
    "noah",
    "omar",
    "pia",
    "rio",
    "sara",
    "tom",
    "yuki",
    "lucas",
    "nina",
    "sofia",
    "arief",
    "minji",
    "haruto",
    "ines",
    "jonas",
    "clara",
    "diego",
)
NAME_WORDS = (
    "travels",
    "eats",
    "daily",
    "photo",
    "life",
    "studio",
    "world",
    "diary",
    "snaps",
    "vibes",
    "journal",
    "moments",
    "official",
    "creates",
    "explores",
    "lens",
)
LAST_NAMES = (
    "Silva",
    "Müller",
    "Martin",
    "García",
    "Kim",
    "Tanaka",
    "Santoso",
    "Smith",
    "Dubois",
    "Rossi",
    "Costa",
    "Park",
    "Sato",
    "Wijaya",
    "Brown",
    "Fernández",
)
RESERVED_PATHS = frozenset({"explore", "p", "api", "media", "accounts", "challenge", "favicon.ico"})


@dataclass(frozen=True)
class DemoPost:
    index: int
    pk: str
    shortcode: str
    owner: str
    owner_pk: str
    owner_full_name: str
    caption: str
    hashtags: list[str]
    topic: str
    lang: str
    taken_at: int
    likes: int
    comments: int
    is_carousel: bool
    n_images: int
    width: int
    height: int
    repost_of: int | None  # the original post (never itself a repost)
    near_duplicate_of: int | None  # the post whose drawing this one re-uses with jitter


def shortcode_from_pk(pk: int) -> str:
    """Instagram's shortcode is the media id written in a URL-safe base-64 alphabet."""
    digits = []
    while pk:
        pk, rest = divmod(pk, 64)
        digits.append(SHORTCODE_ALPHABET[rest])
    return "".join(reversed(digits)) or "A"


def pk_from_shortcode(code: str) -> int | None:
    pk = 0
    for char in code:
        value = SHORTCODE_ALPHABET.find(char)
        if value < 0:
            return None
        pk = pk * 64 + value
    return pk


def media_path(pk: str, n: int = 0) -> str:
    """The demo site's path of image ``n`` of a post (without the signed query string)."""
    return f"/media/{pk}.jpg" if n == 0 else f"/media/{pk}_{n}.jpg"


def fit_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """``(width, height)`` shrunk to fit ``max_side`` (aspect kept); unchanged when it fits."""
    if max_side and max(width, height) > max_side:
        scale = max_side / max(width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))
    return width, height


def _inherit(values: np.ndarray, parent: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Copy values down parent links into the masked rows, through chains of any length.

    Parents always come earlier, so chains end at an unmasked row; once every masked row
    equals its parent, each equals the end of its chain.
    """
    values = values.copy()
    rows = np.flatnonzero(mask)
    while True:
        inherited = values[parent[rows]]
        if np.array_equal(inherited, values[rows]):
            return values
        values[rows] = inherited


class CorpusKeys(TypedDict, total=False):
    """The corpus keys of configs/demo.yaml besides ``seed`` and ``n_posts`` (their types and
    limits: demo_site.settings.DemoSettings)."""

    n_topics: int
    n_owners: int
    n_tags: int | None
    english_share: float
    repost_rate: float
    near_duplicate_rate: float
    carousel_rate: float


class DemoCorpus:
    """``n_posts`` posts over ``n_topics`` topics by ``n_owners`` accounts, fixed by ``seed``."""

    def __init__(
        self, seed: int | None = None, n_posts: int | None = None, **corpus: Unpack[CorpusKeys]
    ) -> None:
        """The corpus of these corpus keys of configs/demo.yaml; a key not given takes its value
        there, and a bad one is the settings model's one-line UsageError."""
        given = {"seed": seed, "n_posts": n_posts}
        values = {key: value for key, value in given.items() if value is not None} | corpus
        settings = validate(DemoSettings, values, "bad demo config: ")
        self.seed, self.n_posts = settings.seed, settings.n_posts
        self.topics: tuple[Topic, ...] = TOPICS[: settings.n_topics]
        self._draw_owners(settings.n_owners, settings.english_share)
        self._draw_posts(settings.repost_rate, settings.near_duplicate_rate, settings.carousel_rate)
        self._build_indexes(settings.n_tags)

    @classmethod
    def from_settings(cls, settings: DemoSettings) -> DemoCorpus:
        """The corpus that the corpus keys of ``settings`` describe."""
        return cls(
            **settings.model_dump(include={"seed", "n_posts", *CorpusKeys.__optional_keys__})
        )

    # --- construction ----------------------------------------------------------------------

    def _rng(self, stream: str) -> np.random.Generator:
        """One numpy stream per attribute, so adding an attribute never reshuffles the others."""
        return np.random.default_rng([self.seed, *stream.encode()])

    def _draw_owners(self, n_owners: int, english_share: float) -> None:
        rng = self._rng("owners")
        names_rng = random.Random(f"{self.seed}:owners")
        people: dict[str, str] = {}  # username -> full name
        while len(people) < n_owners:
            first, word = names_rng.choice(FIRST_NAMES), names_rng.choice(NAME_WORDS)
            name = names_rng.choice(
                (
                    f"{first}.{word}",
                    f"{first}_{word}",
                    f"{word}.{first}",
                    f"{first}{word}{names_rng.randint(1, 999)}",
                )
            )
            if name not in RESERVED_PATHS and name not in people:
                people[name] = f"{first.title()} {names_rng.choice(LAST_NAMES)}"
        self.owner_names = list(people)
        self.owner_full_names = list(people.values())
        other_share = (1 - english_share) / (len(LANGUAGES) - 1)
        self.owner_lang = rng.choice(
            len(LANGUAGES), size=n_owners, p=[english_share] + [other_share] * (len(LANGUAGES) - 1)
        )
        self.owner_topic = rng.integers(0, len(self.topics), size=n_owners)
        activity = rng.lognormal(0.0, 0.6, size=n_owners)
        self.owner_weight = activity / activity.sum()
        self.owner_spammy = rng.random(n_owners) < SPAMMY_OWNER_SHARE

    def _draw_posts(
        self, repost_rate: float, near_duplicate_rate: float, carousel_rate: float
    ) -> None:
        n, index = self.n_posts, np.arange(self.n_posts)
        owner = self._rng("owner").choice(len(self.owner_names), size=n, p=self.owner_weight)
        rng = self._rng("topic")
        topic = np.where(
            rng.random(n) < OWN_TOPIC_SHARE,
            self.owner_topic[owner],
            rng.integers(0, len(self.topics), size=n),
        )
        lang = self.owner_lang[owner]

        rng = self._rng("links")
        earlier = (rng.random(n) * index).astype(np.int64)  # a uniformly chosen earlier post
        kind = rng.random(n)
        is_repost = (index > 0) & (kind < repost_rate)
        is_dup = (index > 0) & ~is_repost & (kind < repost_rate + near_duplicate_rate)
        parent = np.where(is_repost | is_dup, earlier, index)

        rng = self._rng("shape")
        n_images = np.where(rng.random(n) < carousel_rate, rng.integers(2, 4, size=n), 1)
        n_images[is_dup] = 1
        size = rng.integers(0, len(SIZES), size=n)
        linked = is_repost | is_dup
        self._topic = _inherit(topic, parent, linked)
        self._size = _inherit(size, parent, linked)
        self._art = _inherit(index, parent, linked)  # whose composition is drawn
        self._jitter = _inherit(np.where(is_dup, index, -1), parent, is_repost)
        self._n_images = _inherit(n_images, parent, is_repost)
        self._lang = _inherit(lang, parent, is_repost)
        self._root = np.where(is_repost, _inherit(index, parent, is_repost), -1)
        self._dup_of = np.where(is_dup, parent, -1)
        same_owner = self._rng("repost_owner").random(n) < SAME_OWNER_REPOST_SHARE
        root_owner = owner[np.maximum(self._root, 0)]
        self._owner = np.where(is_repost & same_owner, root_owner, owner)

        rng = self._rng("tags")
        chances = np.array(TAG_CHANCES)
        has_slot = np.array(
            [[slot < len(t.tags) for slot in range(len(chances))] for t in self.topics]
        )
        topic_tags = (rng.random((n, len(chances))) < chances) & has_slot[self._topic]
        spam_chance = np.where(
            self.owner_spammy[self._owner], SPAM_CHANCE_SPAMMY, SPAM_CHANCE_OTHER
        )
        spam_tags = rng.random((n, len(SPAM_TAGS))) < spam_chance[:, None]
        topic_tags[:, 0] |= ~(topic_tags.any(axis=1) | spam_tags.any(axis=1))  # at least one tag
        self._topic_tags = _inherit(topic_tags, parent, is_repost)
        self._spam_tags = _inherit(spam_tags, parent, is_repost)
        local_langs = np.isin(self._lang, [LANGUAGES.index(x) for x in LOCAL_TAG_LANGUAGES])
        local_tag = local_langs & (self._rng("local_tags").random(n) < LOCAL_TAG_CHANCE)
        self._local_tag = _inherit(local_tag, parent, is_repost)

        rng = self._rng("engagement")
        self._taken_at = FIRST_TAKEN_AT + ((index + rng.random(n)) * SPAN_SECONDS / n).astype(
            np.int64
        )
        self._likes = rng.lognormal(4.0, 1.2, size=n).astype(np.int64)
        self._comments = (self._likes * rng.random(n) * 0.08).astype(np.int64)

    def _build_indexes(self, n_tags: int | None) -> None:
        """tag -> post indexes and owner -> post indexes, newest (highest index) first."""
        by_tag: dict[str, list[np.ndarray]] = {}
        for t, topic in enumerate(self.topics):
            of_topic = self._topic == t
            for slot, tag in enumerate(topic.tags[: len(TAG_CHANCES)]):
                on_post = of_topic & self._topic_tags[:, slot]
                by_tag.setdefault(tag, []).append(np.flatnonzero(on_post))
            for lang in LOCAL_TAG_LANGUAGES:
                in_lang = of_topic & self._local_tag & (self._lang == LANGUAGES.index(lang))
                by_tag.setdefault(topic.local_tag(lang), []).append(np.flatnonzero(in_lang))
        for slot, tag in enumerate(SPAM_TAGS):
            by_tag.setdefault(tag, []).append(np.flatnonzero(self._spam_tags[:, slot]))
        merged = {tag: np.unique(np.concatenate(parts))[::-1] for tag, parts in by_tag.items()}
        ranked = sorted(
            (tag for tag, posts in merged.items() if posts.size),
            key=lambda tag: (-merged[tag].size, tag),
        )
        self._tag_posts = {tag: merged[tag] for tag in ranked[:n_tags]}
        newest_first = np.arange(self.n_posts)[::-1]
        owners = self._owner[newest_first]
        self._profile_posts = {
            self.owner_names[k]: newest_first[owners == k] for k in np.unique(self._owner)
        }

    # --- public API ------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.n_posts

    def tags(self) -> list[str]:
        """Tags that have a feed, most posts first."""
        return list(self._tag_posts)

    def tag_posts(self, tag: str) -> list[int]:
        return self._tag_posts.get(tag, np.empty(0, dtype=np.int64)).tolist()

    def profiles(self) -> list[str]:
        return list(self._profile_posts)

    def profile_posts(self, user: str) -> list[int]:
        return self._profile_posts.get(user, np.empty(0, dtype=np.int64)).tolist()

    def pk(self, i: int) -> int:
        return PK_BASE + i * PK_STEP

    def index_of_pk(self, pk: int) -> int | None:
        i, rest = divmod(pk - PK_BASE, PK_STEP)
        return i if rest == 0 and 0 <= i < self.n_posts else None

    def by_shortcode(self, code: str) -> DemoPost | None:
        pk = pk_from_shortcode(code)
        i = None if pk is None else self.index_of_pk(pk)
        return None if i is None else self.post(i)

    def post(self, i: int) -> DemoPost:
        if not 0 <= i < self.n_posts:
            raise IndexError(f"post {i} out of range 0..{self.n_posts - 1}")
        root = int(self._root[i])
        owner = int(self._owner[i])
        if root >= 0:
            original = self.post(root)
            caption = captions.repost_caption(
                original.caption,
                original.owner,
                same_owner=original.owner == self.owner_names[owner],
            )
        else:
            caption = self._write_caption(i, owner)
        width, height = SIZES[int(self._size[i])]
        n_images = int(self._n_images[i])
        pk = self.pk(i)
        return DemoPost(
            index=i,
            pk=str(pk),
            shortcode=shortcode_from_pk(pk),
            owner=self.owner_names[owner],
            owner_pk=str(OWNER_PK_BASE + owner),
            owner_full_name=self.owner_full_names[owner],
            caption=caption,
            hashtags=extract_hashtags(caption),
            topic=self.topics[int(self._topic[i])].name,
            lang=LANGUAGES[int(self._lang[i])],
            taken_at=int(self._taken_at[i]),
            likes=int(self._likes[i]),
            comments=int(self._comments[i]),
            is_carousel=n_images > 1,
            n_images=n_images,
            width=width,
            height=height,
            repost_of=root if root >= 0 else None,
            near_duplicate_of=int(self._dup_of[i]) if self._dup_of[i] >= 0 else None,
        )

    def post_tags(self, i: int) -> list[str]:
        """The normalized tags drawn for post ``i`` (the caption carries exactly these)."""
        topic = self.topics[int(self._topic[i])]
        chosen = [tag for tag, on in zip(topic.tags, self._topic_tags[i], strict=False) if on]
        if self._local_tag[i]:
            chosen.append(topic.local_tag(LANGUAGES[int(self._lang[i])]))
        chosen += [tag for tag, on in zip(SPAM_TAGS, self._spam_tags[i], strict=True) if on]
        return list(dict.fromkeys(chosen))

    def _write_caption(self, i: int, owner: int) -> str:
        rng = random.Random(f"{self.seed}:{i}")
        mention = self.owner_names[rng.randrange(len(self.owner_names))]
        topic, lang = self.topics[int(self._topic[i])], LANGUAGES[int(self._lang[i])]
        return captions.write_caption(
            topic, lang, self.post_tags(i), rng, self.owner_names[owner], mention
        )

    def image_size(self, i: int, max_side: int | None = None) -> tuple[int, int]:
        return fit_size(*SIZES[int(self._size[i])], max_side)

    def render_image(self, i: int, n: int = 0, max_side: int | None = None) -> bytes:
        """JPEG bytes of image ``n`` of post ``i``, drawn now; ``max_side`` gives a thumbnail."""
        return pictures.render_jpeg(self.draw_image(i, n, max_side))

    def draw_image(
        self, i: int, n: int = 0, max_side: int | None = None, motifs: bool = True
    ) -> Image.Image:
        """Image ``n`` of post ``i`` as the site serves it; ``motifs=False`` leaves out its tag
        motifs (what a picture showing the topic alone would be, for benchmarks)."""
        if not 0 <= n < int(self._n_images[i]):
            raise IndexError(f"post {i} has no image {n}")
        width, height = self.image_size(i, max_side)
        jitter, art = int(self._jitter[i]), int(self._art[i])
        return pictures.draw(
            self.topics[int(self._topic[i])],
            f"{self.seed}:{art}:{n}",
            width,
            height,
            f"{self.seed}:{jitter}:jitter" if jitter >= 0 else None,
            self.picture_slots(i) if motifs else (),
        )

    def picture_slots(self, i: int) -> tuple[int, ...]:
        """The topic tag slots whose motifs post ``i``'s pictures show: those of the post whose
        composition it draws (itself; for a repost the original, which has the same tags; for
        a near-duplicate the post it re-uploads, so it stays a jittered copy of that picture)."""
        return tuple(np.flatnonzero(self._topic_tags[int(self._art[i])]).tolist())
