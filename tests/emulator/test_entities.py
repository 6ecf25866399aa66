"""Telegram's HTML rules: entity offsets in UTF-16 units, error offsets in UTF-8 bytes."""

from __future__ import annotations

import pytest

from bot_api_emulator.entities import EntityParseError, detect_entities, parse_html, utf16_len


def test_offsets_are_utf16_units() -> None:
    text, entities = parse_html("😀 <b>città</b> &lt;ok&gt; &#169; &#x1F600;")
    assert text == "😀 città <ok> © 😀"
    assert entities == [{"offset": 3, "length": 5, "type": "bold"}]
    assert utf16_len(text) == len(text) + 2


def test_error_offsets_are_utf8_bytes() -> None:
    with pytest.raises(EntityParseError, match="byte offset 7"):
        parse_html("città <x>")


def test_links_mentions_and_code_languages() -> None:
    text, entities = parse_html(
        '<A HREF="https://a.it/?x=1&amp;y=2">a</A> <a href="tg://user?id=42">u</a> '
        '<pre><code class="language-yaml">k: v</code></pre> <code>c</code>'
    )
    assert text == "a u k: v c"
    assert entities[0] == {
        "offset": 0,
        "length": 1,
        "type": "text_link",
        "url": "https://a.it/?x=1&y=2",
    }
    assert entities[1]["type"] == "text_mention" and entities[1]["user"]["id"] == 42
    assert entities[2] == {"offset": 4, "length": 4, "type": "pre", "language": "yaml"}
    assert entities[3] == {"offset": 9, "length": 1, "type": "code"}


def test_unknown_references_and_bare_ampersands_stay_text() -> None:
    assert parse_html("A & B &nbsp; C")[0] == "A & B &nbsp; C"


def test_br_is_not_a_telegram_tag() -> None:
    with pytest.raises(EntityParseError, match='Unsupported start tag "br"'):
        parse_html("line<br>line")


def test_detected_entities() -> None:
    kinds = [e["type"] for e in detect_entities("/start @someone #tag a@b.it https://x.org")]
    assert kinds == ["bot_command", "mention", "hashtag", "email", "url"]
