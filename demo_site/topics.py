"""The demo site's 40 topics: how each looks (palette, shapes, texture) and speaks (tags, words).

One table keeps a topic's text and its image side by side, so the signal a model can learn
from the caption and from the picture comes from the same place. Hashtags are stored in
normalized form; several are shared between topics (``nature``, ``travel``, ``foodie``) so
labels overlap the way real ones do.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("en", "es", "fr", "de", "pt", "id", "ko", "ja")
# Korean and Japanese posters often add a tag in their own script (#바다, #うちの猫).
LOCAL_TAG_LANGUAGES = ("ko", "ja")

# Engagement spam that rides on posts of every topic.
SPAM_TAGS = (
    "instagood",
    "photooftheday",
    "follow4follow",
    "like4like",
    "picoftheday",
    "instadaily",
    "followme",
    "love",
)


def topical_tags(tags: list[str]) -> list[str]:
    """``tags`` without the engagement spam: the ones worth crawling in a demo, order kept."""
    return [tag for tag in tags if tag not in SPAM_TAGS]


@dataclass(frozen=True)
class Topic:
    name: str
    tags: tuple[str, ...]  # most typical first; tags[0] is the topic's own tag
    emoji: tuple[str, ...]
    words: dict[str, tuple[str, ...]]  # language -> noun phrases that fit the caption templates
    palette: tuple[str, ...]  # sky/top colour, ground/bottom colour, then accent colours
    shape: str  # one of images.SHAPES
    texture: str  # one of images.TEXTURES

    def local_tag(self, lang: str) -> str:
        """The topic's tag in ``lang``'s own script: its word with the spaces dropped."""
        return "".join(self.words[lang][0].split())


def _topic(
    name: str, tags: str, emoji: str, en: str, others: str, palette: str, shape: str, texture: str
) -> Topic:
    """Build a topic from compact strings: tags and emoji space-separated, phrases '|'-separated.

    ``others`` holds one phrase per non-English language, in :data:`LANGUAGES` order.
    """
    phrases = others.split("|")
    if len(phrases) != len(LANGUAGES) - 1:
        raise ValueError(f"topic {name}: expected {len(LANGUAGES) - 1} translations")
    words = {"en": tuple(en.split("|"))}
    words.update({lang: (phrase,) for lang, phrase in zip(LANGUAGES[1:], phrases, strict=True)})
    return Topic(
        name,
        tuple(tags.split()),
        tuple(emoji.split()),
        words,
        tuple(palette.split()),
        shape,
        texture,
    )


TOPICS: tuple[Topic, ...] = (
    _topic(
        "beach",
        "beach beachlife sand seaside summer vacation travel ocean",
        "🏖️ 🌊 🐚",
        "the beach|a day at the beach|sandy toes",
        "la playa|la plage|der Strand|a praia|pantai|바다|海",
        "#79c7ef #f3d9a4 #fff3c4 #2d9cdb #ffffff",
        "bands",
        "waves",
    ),
    _topic(
        "food",
        "food foodie foodporn yummy delicious dinner homemade instafood",
        "🍝 😋 🍴",
        "homemade pasta|a good dinner|comfort food",
        "la comida casera|un bon dîner|gutes Essen|a comida caseira|makanan rumahan|집밥|手料理",
        "#f6e3c6 #c0392b #e67e22 #27ae60 #f1c40f",
        "circles",
        "speckle",
    ),
    _topic(
        "cats",
        "cats cat catsofinstagram kitten meow pets catlover",
        "🐱 😺 🐾",
        "my cat|this little kitten|lazy cat naps",
        "mi gato|mon chat|meine Katze|o meu gato|kucingku|우리 고양이|うちの猫",
        "#d8cfc4 #8d7b68 #f39c12 #2c3e50 #fdfefe",
        "ellipses",
        "speckle",
    ),
    _topic(
        "dogs",
        "dogs dog dogsofinstagram puppy doglover pets woof",
        "🐶 🐕 🦴",
        "my dog|a muddy puppy|walks with the dog",
        "mi perro|mon chien|mein Hund|o meu cachorro|anjingku|우리 강아지|うちの犬",
        "#a8d5a2 #6b8e23 #8b5a2b #f5deb3 #3e2723",
        "circles",
        "grid",
    ),
    _topic(
        "fitness",
        "fitness gym workout fitfam training motivation health",
        "💪 🏋️ 🔥",
        "leg day|an early workout|gym time",
        "el gimnasio|la salle de sport|das Training|o treino|latihan di gym|운동|筋トレ",
        "#2c3e50 #111111 #e74c3c #ecf0f1 #95a5a6",
        "bands",
        "hatch",
    ),
    _topic(
        "coffee",
        "coffee coffeetime latte espresso cafe barista coffeelover foodie",
        "☕ 🥐 🤎",
        "fresh coffee|a flat white|coffee with a view",
        "el café|le café|der Kaffee|o café|kopi pagi|커피|コーヒー",
        "#f5e6d3 #6f4e37 #3b2416 #d2a679 #fffaf0",
        "circles",
        "waves",
    ),
    _topic(
        "mountains",
        "mountains hiking nature alps summit adventure travel outdoors",
        "🏔️ ⛰️ 🥾",
        "the mountains|a long hike|the summit",
        "la montaña|la montagne|die Berge|a montanha|gunung|산|山",
        "#a9cce3 #4d5656 #f8f9f9 #1e8449 #7f8c8d",
        "triangles",
        "speckle",
    ),
    _topic(
        "city",
        "city citylife urban streetphotography skyline travel architecture",
        "🏙️ 🌆 🚕",
        "city lights|the skyline|these city streets",
        "la ciudad|la ville|die Stadt|a cidade|kota|도시|街",
        "#34495e #1b2631 #f4d03f #5d6d7e #e5e8e8",
        "squares",
        "grid",
    ),
    _topic(
        "fashion",
        "fashion ootd style outfit streetstyle fashionista lookbook",
        "👗 👠 💄",
        "today's outfit|this new jacket|my favourite look",
        "el look de hoy|la tenue du jour|das Outfit|o look de hoje|"
        "outfit hari ini|오늘의 코디|今日のコーデ",
        "#f8c8dc #222222 #c2185b #f5f5f5 #9e9e9e",
        "squares",
        "hatch",
    ),
    _topic(
        "flowers",
        "flowers flower bloom spring garden nature floral",
        "🌸 🌷 🌼",
        "spring flowers|these tulips|fresh blooms",
        "las flores|les fleurs|die Blumen|as flores|bunga-bunga|꽃|花",
        "#c8e6c9 #66bb6a #e91e63 #ffeb3b #ab47bc",
        "stars",
        "speckle",
    ),
    _topic(
        "cars",
        "cars car carsofinstagram supercar drive carlifestyle auto",
        "🚗 🏁 🔧",
        "my new car|a sunday drive|this classic car",
        "el coche|la voiture|das Auto|o carro|mobil baru|자동차|車",
        "#bdc3c7 #2e2e2e #d32f2f #1565c0 #fafafa",
        "ellipses",
        "hatch",
    ),
    _topic(
        "books",
        "books bookstagram reading booklover bookworm read",
        "📚 📖 🤓",
        "a good book|this novel|a rainy reading day",
        "un buen libro|un bon livre|ein gutes Buch|um bom livro|buku bagus|책|本",
        "#efe6d8 #7b4f2c #1f618d #922b21 #145a32",
        "squares",
        "bands",
    ),
    _topic(
        "sunset",
        "sunset sunsets goldenhour sky nature skylovers",
        "🌅 🧡 ✨",
        "the sunset|golden hour|this sky",
        "el atardecer|le coucher de soleil|der Sonnenuntergang|o pôr do sol|senja|노을|夕日",
        "#ff7e5f #5b2a86 #ffd166 #ef476f #ffffff",
        "circles",
        "bands",
    ),
    _topic(
        "snow",
        "snow winter snowday cold skiing winterwonderland nature",
        "❄️ ☃️ 🎿",
        "fresh snow|a snowy morning|winter light",
        "la nieve|la neige|der Schnee|a neve|salju|눈|雪",
        "#e8f1f8 #b0c4de #ffffff #5dade2 #85929e",
        "stars",
        "dots",
    ),
    _topic(
        "desert",
        "desert sand dunes travel adventure wanderlust nature",
        "🏜️ 🐪 ☀️",
        "the desert|these dunes|desert roads",
        "el desierto|le désert|die Wüste|o deserto|gurun|사막|砂漠",
        "#f7dc6f #d35400 #a04000 #fdebd0 #7e5109",
        "arcs",
        "waves",
    ),
    _topic(
        "forest",
        "forest trees nature woods hiking green forestbathing",
        "🌲 🍃 🌿",
        "the forest|a walk in the woods|tall trees",
        "el bosque|la forêt|der Wald|a floresta|hutan|숲|森",
        "#7dcea0 #0b5345 #145a32 #a9dfbf #4a235a",
        "triangles",
        "hatch",
    ),
    _topic(
        "surfing",
        "surfing surf waves surfer ocean beach surflife",
        "🏄 🌊 🤙",
        "a perfect wave|surf sessions|dawn patrol",
        "las olas|le surf|das Surfen|o surfe|ombak|서핑|サーフィン",
        "#48c9b0 #1a5276 #ffffff #f4d03f #117a65",
        "arcs",
        "waves",
    ),
    _topic(
        "concert",
        "concert music livemusic festival band musician gig",
        "🎸 🎤 🎶",
        "live music|tonight's concert|this band",
        "el concierto|le concert|das Konzert|o show|konser|콘서트|ライブ",
        "#1b1464 #000000 #ff00cc #00e5ff #fff200",
        "diagonals",
        "dots",
    ),
    _topic(
        "painting",
        "art painting artist artwork watercolor illustration drawing",
        "🎨 🖌️ 🖼️",
        "my new painting|watercolour practice|this canvas",
        "mi nueva pintura|ma nouvelle peinture|mein neues Bild|a minha pintura|"
        "lukisan baru|그림|絵",
        "#fdfefe #d5d8dc #e74c3c #3498db #f1c40f",
        "stars",
        "grid",
    ),
    _topic(
        "cake",
        "cake baking dessert sweet homemade foodie birthdaycake",
        "🎂 🍰 🧁",
        "homemade cake|a birthday cake|fresh pastries",
        "la tarta casera|le gâteau maison|der Kuchen|o bolo caseiro|"
        "kue buatan sendiri|케이크|ケーキ",
        "#fde2e4 #fad2e1 #8e44ad #ffffff #f06292",
        "circles",
        "dots",
    ),
    _topic(
        "sushi",
        "sushi japanesefood sashimi foodie dinner yummy",
        "🍣 🥢 🍱",
        "fresh sushi|a sushi dinner|salmon nigiri",
        "el sushi|les sushis|das Sushi|o sushi|sushi segar|초밥|寿司",
        "#fdfefe #1c2833 #ff6f61 #2e7d32 #f5cba7",
        "ellipses",
        "grid",
    ),
    _topic(
        "wedding",
        "wedding bride love weddingday bridal weddingdress justmarried",
        "💍 👰 💐",
        "our wedding day|the bride|the first dance",
        "nuestra boda|notre mariage|unsere Hochzeit|o nosso casamento|"
        "hari pernikahan|결혼식|結婚式",
        "#fffaf0 #f5e1da #d4af37 #ffffff #c9a0a0",
        "arcs",
        "dots",
    ),
    _topic(
        "baby",
        "baby newborn family mom babylove cute kids",
        "👶 🍼 💕",
        "our little one|baby giggles|tiny feet",
        "nuestro bebé|notre bébé|unser Baby|o nosso bebê|si kecil|우리 아기|赤ちゃん",
        "#e3f2fd #fce4ec #90caf9 #f48fb1 #fffde7",
        "circles",
        "grid",
    ),
    _topic(
        "gaming",
        "gaming gamer videogames ps5 xbox twitch esports",
        "🎮 🕹️ 👾",
        "game night|a new high score|this boss fight",
        "la noche de juegos|la soirée jeux|der Spieleabend|a noite de jogos|main game|게임|ゲーム",
        "#0d0221 #261447 #2de2e6 #ff3864 #f6019d",
        "squares",
        "dots",
    ),
    _topic(
        "yoga",
        "yoga meditation mindfulness yogi namaste wellness health",
        "🧘 🕉️ 🌿",
        "morning yoga|a quiet practice|deep breaths",
        "el yoga|le yoga|das Yoga|a ioga|yoga pagi|요가|ヨガ",
        "#e8daef #a3e4d7 #7d3c98 #fdfefe #48c9b0",
        "arcs",
        "speckle",
    ),
    _topic(
        "running",
        "running run runner marathon fitness training runnersofinstagram",
        "🏃 👟 ⏱️",
        "a long run|marathon training|an easy 10k",
        "la carrera|la course|der Lauf|a corrida|lari pagi|달리기|ランニング",
        "#f9e79f #ec7063 #1f618d #fdfefe #17202a",
        "diagonals",
        "hatch",
    ),
    _topic(
        "cycling",
        "cycling bike bicycle cyclinglife roadbike mtb fitness",
        "🚴 🚲 ⛰️",
        "a long ride|my road bike|the bike path",
        "la bici|le vélo|das Radfahren|a bicicleta|bersepeda|자전거|自転車",
        "#d6eaf8 #2874a6 #f39c12 #1c2833 #fdfefe",
        "circles",
        "hatch",
    ),
    _topic(
        "football",
        "football soccer futbol goal matchday stadium sport",
        "⚽ 🥅 🏟️",
        "match day|the stadium|a late goal",
        "el fútbol|le foot|der Fußball|o futebol|sepak bola|축구|サッカー",
        "#58d68d #1e8449 #ffffff #17202a #f4d03f",
        "bands",
        "grid",
    ),
    _topic(
        "architecture",
        "architecture building design architecturelovers city modern",
        "🏛️ 📐 🏢",
        "this building|clean lines|modern architecture",
        "la arquitectura|l'architecture|die Architektur|a arquitetura|arsitektur|건축|建築",
        "#d5dbdb #808b96 #1b2631 #f0b27a #fdfefe",
        "triangles",
        "grid",
    ),
    _topic(
        "stars",
        "stars night nightsky astrophotography milkyway space",
        "🌌 ⭐ 🔭",
        "the night sky|the milky way|stargazing",
        "el cielo nocturno|le ciel étoilé|der Sternenhimmel|o céu estrelado|"
        "langit malam|밤하늘|星空",
        "#0b0c2a #1a1446 #ffffff #f7dc6f #5dade2",
        "stars",
        "speckle",
    ),
    _topic(
        "rain",
        "rain rainyday mood weather cozy umbrella",
        "🌧️ ☔ 💧",
        "a rainy day|the rain|grey skies",
        "la lluvia|la pluie|der Regen|a chuva|hujan|비|雨",
        "#85929e #34495e #aed6f1 #2e4053 #d6eaf8",
        "ellipses",
        "diagonals",
    ),
    _topic(
        "plants",
        "plants plantsofinstagram houseplants urbanjungle plantlover green garden",
        "🪴 🌱 🍃",
        "my houseplants|a new monstera|the plant shelf",
        "mis plantas|mes plantes|meine Pflanzen|as minhas plantas|tanaman hias|식물|観葉植物",
        "#f4f6f6 #52be80 #196f3d #a04000 #abebc6",
        "ellipses",
        "bands",
    ),
    _topic(
        "horses",
        "horses horse equestrian horseriding horselove pets",
        "🐴 🏇 🌾",
        "my horse|an evening ride|the stable",
        "mi caballo|mon cheval|mein Pferd|o meu cavalo|kuda|말|馬",
        "#d4e6c3 #7d6608 #6e2c00 #f5cba7 #1d1d1d",
        "arcs",
        "hatch",
    ),
    _topic(
        "birds",
        "birds birdwatching birdphotography wildlife nature bird",
        "🐦 🦜 🪶",
        "a tiny robin|birdwatching|these parrots",
        "los pájaros|les oiseaux|die Vögel|os pássaros|burung|새|鳥",
        "#d0ece7 #7fb3d5 #e67e22 #27ae60 #2c3e50",
        "triangles",
        "dots",
    ),
    _topic(
        "autumn",
        "autumn fall leaves autumnvibes cozy october nature",
        "🍂 🍁 🎃",
        "autumn leaves|a crisp fall morning|pumpkin season",
        "el otoño|l'automne|der Herbst|o outono|musim gugur|가을|紅葉",
        "#f5cba7 #a04000 #d35400 #f1c40f #78281f",
        "stars",
        "waves",
    ),
    _topic(
        "makeup",
        "makeup beauty mua makeuplook lipstick skincare",
        "💄 💋 ✨",
        "today's makeup|a bold lip|my skincare routine",
        "el maquillaje|le maquillage|das Make-up|a maquiagem|makeup hari ini|메이크업|メイク",
        "#fadbd8 #f5b7b1 #922b21 #f8f9f9 #d98880",
        "ellipses",
        "dots",
    ),
    _topic(
        "camping",
        "camping campfire outdoors tent adventure nature",
        "⛺ 🔥 🌲",
        "the campfire|a night in the tent|camp life",
        "la acampada|le camping|das Zelten|o acampamento|berkemah|캠핑|キャンプ",
        "#1c2833 #145a32 #e67e22 #f4d03f #784212",
        "triangles",
        "waves",
    ),
    _topic(
        "wine",
        "wine winetasting redwine vineyard sommelier foodie",
        "🍷 🍇 🥂",
        "a glass of red|wine tasting|the vineyard",
        "el vino|le vin|der Wein|o vinho|anggur merah|와인|ワイン",
        "#f2d7d5 #641e16 #922b21 #7d3c98 #d4ac0d",
        "circles",
        "diagonals",
    ),
    _topic(
        "sailing",
        "sailing boat sea yacht sailboat ocean travel",
        "⛵ ⚓ 🌊",
        "a day on the boat|open water|the harbour",
        "el velero|le voilier|das Segeln|o veleiro|berlayar|요트|ヨット",
        "#aed6f1 #154360 #ffffff #e74c3c #f7f9f9",
        "triangles",
        "bands",
    ),
    _topic(
        "lake",
        "lake lakeside nature reflection calm travel",
        "🏞️ 🛶 💙",
        "the lake|calm water|a quiet lakeside",
        "el lago|le lac|der See|o lago|danau|호수|湖",
        "#a3e4d7 #1a5276 #5dade2 #0e6251 #fdfefe",
        "bands",
        "diagonals",
    ),
)
