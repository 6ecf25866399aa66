"""Right-to-left output keeps course names, times, phone numbers and URLs in one piece."""

from __future__ import annotations

from learncity.bidi import LRI, PDI, for_reading, isolate_ltr, isolate_ltr_html
from learncity.i18n import is_rtl


def test_a_line_starting_with_a_course_name_and_a_time() -> None:
    line = "Corso di italiano A2 18:30 — في مكتبة المدينة"

    isolated = isolate_ltr(line)

    assert isolated == f"{LRI}Corso di italiano A2 18:30{PDI} — في مكتبة المدينة"
    # The first strong character outside isolates is Arabic: the line is laid out right to left.
    outside = isolated.split(PDI, 1)[1]
    assert outside.strip().startswith("—")


def test_phone_numbers_and_urls_are_one_run_each() -> None:
    text = "اتصل على +39 095 000 1101 أو زر https://example.org/corsi?id=2 اليوم"

    assert isolate_ltr(text) == (
        f"اتصل على {LRI}+39 095 000 1101{PDI} أو زر "
        f"{LRI}https://example.org/corsi?id=2{PDI} اليوم"
    )


def test_html_tags_and_entities_are_left_whole() -> None:
    markup = '<b>Rock &amp; Roll</b> في <a href="https://x.org">x.org</a> الساعة 18:00'

    assert isolate_ltr_html(markup) == (
        f'<b>{LRI}Rock &amp; Roll{PDI}</b> في <a href="https://x.org">{LRI}x.org{PDI}</a>'
        f" الساعة {LRI}18:00{PDI}"
    )


def test_isolating_twice_changes_nothing_and_ltr_text_is_left_alone() -> None:
    once = isolate_ltr("الدورة Corso A 10:00")

    assert isolate_ltr(once) == once
    assert for_reading("<b>Corso</b> 18:00") == "<b>Corso</b> 18:00"
    assert for_reading("<b>Corso</b> دورة") == f"<b>{LRI}Corso{PDI}</b> دورة"


def test_right_to_left_languages_come_from_cldr() -> None:
    assert is_rtl("ar") and is_rtl("he")
    assert not is_rtl("uk") and not is_rtl("it") and not is_rtl("xx")
