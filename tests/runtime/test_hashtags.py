"""Hashtag extraction edge cases: the one definition of docs/architecture.md."""

import pytest

from runtime.hashtags import extract_hashtags, strip_for_model


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#foo#bar", ["foo", "bar"]),
        ("a#b", []),
        ("#123", []),
        ("#123abc", ["123abc"]),
        ("＃Ｔｏｋｙｏ", ["tokyo"]),
        ("#東京 #café #Café", ["東京", "café"]),
        ("❤️#love😍", ["love"]),
        ("&#39; #ok", ["ok"]),
        ("#tag\u200dx", ["tag\u200dx"]),
        ("#tag\u200d end", ["tag"]),
        ("#می\u200cخواهم", ["می\u200cخواهم"]),
        ("#cal·la #ok· end", ["cal·la", "ok"]),
        ("#צה\u05f4ל #ג\u05f3ירפה", ["צה\u05f4ל", "ג\u05f3ירפה"]),
        ("#ありがとう〜ございます", ["ありがとう〜ございます"]),
        ("#https://x.com/a #real", ["real"]),
        ("https://x.com/#section x.com/#part #real", ["real"]),
        ("#👩\u200d💻", []),
        ("Straße #STRASSE #straße", ["strasse"]),
        ("see https://x.com/page#frag #real", ["real"]),
        ("#서울 #ソウル_旅行", ["서울", "ソウル_旅行"]),
        ("#cafe\u0301s #ok", ["cafés", "ok"]),  # a mark after ASCII letters continues the tag
        ("#ab١٢ #a² #x·", ["ab١٢", "a", "x"]),  # Arabic-Indic digits are Nd, ² is not
        ("WWW.X.COM/#frag #real", ["real"]),
        ("mail@x.com#tag", []),
        ("", []),
    ],
)
def test_extract_hashtags(text: str, expected: list[str]) -> None:
    assert extract_hashtags(text) == expected


def test_strip_for_model_removes_a_hashed_url_whole() -> None:
    assert strip_for_model("look #https://x.com/a here") == "look here"


def test_strip_for_model_removes_tags_mentions_urls() -> None:
    text = "Sunset 🌅 with @anna.b at https://t.co/x #beach#sun www.a.com/y  end"
    assert strip_for_model(text) == "Sunset 🌅 with at end"


def test_no_label_survives_in_model_text() -> None:
    text = "#Love is #LOVE and ＃love"
    assert "love" not in strip_for_model(text).casefold()
