"""Caption writing for the demo posts: sentence templates per language, filled with topic words.

A caption mixes what real ones carry - a sentence or two in the poster's language, emoji,
hashtags both inline and in a trailing block, sometimes an @mention or a URL (whose ``#``
fragment is not a hashtag) - so every stage downstream meets the same clutter it meets on
Instagram. All choices come from the ``random.Random`` handed in, so a caption is a pure
function of the post's seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from demo_site.topics import Topic

# {thing} is a topic phrase from Topic.words; {Thing} the same phrase capitalized.
OPENERS: dict[str, tuple[str, ...]] = {
    "en": (
        "Nothing beats {thing} on a {day}",
        "{Thing} never gets old",
        "Can't get enough of {thing}",
        "Found my happy place: {thing}",
        "Who else loves {thing}?",
        "Grateful for {thing} today",
        "Weekend plans: {thing}",
        "{Thing} is all I need right now",
        "Take me back to {thing}",
        "Another {day} well spent with {thing}",
    ),
    "es": (
        "Nada como {thing} para desconectar",
        "Mi lugar feliz: {thing}",
        "¿Quién más ama {thing}?",
        "Hoy tocó {thing} y fue perfecto",
    ),
    "fr": (
        "Rien de tel que {thing} pour bien commencer la semaine",
        "Mon petit bonheur du jour : {thing}",
        "Qui d'autre adore {thing} ?",
        "Aujourd'hui, c'était {thing} et rien d'autre",
    ),
    "de": (
        "Mein Glücksmoment heute: {thing}",
        "Einfach perfekt: {thing}",
        "Was gibt es Schöneres als {thing}?",
        "{Thing} geht einfach immer",
    ),
    "pt": (
        "Nada como {thing} para relaxar",
        "Meu lugar feliz: {thing}",
        "Quem mais ama {thing}?",
        "{Thing} nunca decepciona",
    ),
    "id": (
        "Hari ini waktunya {thing}!",
        "Nggak ada yang ngalahin {thing} di akhir pekan",
        "Suka banget sama {thing}",
        "Momen favorit minggu ini: {thing}",
    ),
    "ko": (
        "오늘의 {thing} 기록",
        "주말엔 역시 {thing}",
        "{thing} 너무 좋아요",
        "행복한 하루, {thing} 덕분에",
    ),
    "ja": (
        "今日の{thing}、最高でした",
        "週末はやっぱり{thing}",
        "{thing}が好きすぎる",
        "久しぶりの{thing}に癒やされました",
    ),
}

CLOSERS: dict[str, tuple[str, ...]] = {
    "en": (
        "Have a great week everyone!",
        "Swipe for more.",
        "Tag someone who needs this.",
        "What do you think?",
        "Happy {day}!",
    ),
    "es": ("¡Feliz semana a todos!", "¿Qué opinan?", "Etiqueta a alguien que necesita ver esto."),
    "fr": (
        "Bonne semaine à tous !",
        "Vous en pensez quoi ?",
        "Identifiez quelqu'un qui a besoin de voir ça.",
    ),
    "de": ("Schöne Woche euch allen!", "Was meint ihr?", "Markiert jemanden, der das sehen muss."),
    "pt": ("Boa semana a todos!", "O que vocês acham?", "Marque alguém que precisa ver isso."),
    "id": (
        "Selamat berakhir pekan semuanya!",
        "Gimana menurut kalian?",
        "Tag teman yang harus lihat ini.",
    ),
    "ko": (
        "다들 좋은 한 주 보내세요!",
        "여러분 생각은 어때요?",
        "이거 봐야 할 친구 태그해 주세요.",
    ),
    "ja": ("みなさん良い一週間を！", "どう思いますか？", "見てほしい人をタグ付けしてね。"),
}

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
GENERIC_EMOJI = ("✨", "❤️", "😍", "🙌", "🔥", "💯", "😊", "🥰")
MENTION_FORMS = ("with @{user}", "📸 @{user}", "cc @{user}", "thanks @{user}!")
URL_FORMS = (
    "https://linktr.ee/{owner}",
    "https://www.example.com/{topic}/gallery#photo{n}",
    "http://bit.ly/{topic}{n}",
)
TRAILING_SEPARATORS = ("\n\n", "\n.\n.\n.\n", " ")


def _styled(tag: str, rng: random.Random) -> str:
    """Write a normalized tag as people do: mostly lower case, sometimes Capitalized or UPPER;
    tags in Japanese or Korean script sometimes with the full-width sign ``＃``."""
    if not tag.isascii():
        return ("＃" if rng.random() < 0.2 else "#") + tag
    roll = rng.random()
    if roll < 0.15:
        return "#" + tag.capitalize()
    if roll < 0.2:
        return "#" + tag.upper()
    return "#" + tag


def write_caption(
    topic: Topic,
    lang: str,
    tags: Sequence[str],
    rng: random.Random,
    owner: str,
    mention: str | None,
) -> str:
    """A caption in ``lang`` about ``topic`` that carries exactly ``tags`` as its hashtags.

    Every tag is written once, preceded by a space or a line break so it is never glued to a
    letter (``a#b`` is not a hashtag); up to two go inline after the first sentence and the
    rest trail.
    """
    day = rng.choice(DAYS)
    thing = rng.choice(topic.words[lang])
    opener = rng.choice(OPENERS[lang]).format(
        thing=thing, Thing=thing[:1].upper() + thing[1:], day=day
    )
    emoji = "".join(rng.sample(topic.emoji, k=rng.randint(1, 2)))
    if rng.random() < 0.3:
        emoji += rng.choice(GENERIC_EMOJI)
    shuffled = list(tags)
    rng.shuffle(shuffled)
    n_inline = min(len(shuffled), rng.choice((0, 0, 1, 1, 2)))
    inline, trailing = shuffled[:n_inline], shuffled[n_inline:]

    parts = [opener]
    parts.extend(_styled(tag, rng) for tag in inline)
    parts.append(emoji)
    if rng.random() < 0.5:
        parts.append(rng.choice(CLOSERS[lang]).format(day=day))
    if mention and rng.random() < 0.35:
        parts.append(rng.choice(MENTION_FORMS).format(user=mention))
    if rng.random() < 0.12:
        parts.append(
            rng.choice(URL_FORMS).format(owner=owner, topic=topic.name, n=rng.randint(1, 99))
        )
    text = " ".join(parts)
    if trailing:
        text += rng.choice(TRAILING_SEPARATORS) + " ".join(_styled(t, rng) for t in trailing)
    return text


def repost_caption(original: str, original_owner: str, same_owner: bool) -> str:
    """Reposts quote the original caption, so they keep its hashtags."""
    prefix = "Throwback 📸" if same_owner else f"🔁 Repost from @{original_owner}:"
    return f"{prefix} {original}"
