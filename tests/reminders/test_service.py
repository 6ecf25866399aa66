"""The reminder service on a real SQLite file with a manual clock: what a resident would notice."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import yaml
from icalendar import Calendar

from reminders.clock import ManualClock
from reminders.service import NoUpcomingDate, UnknownSubscription, UnknownTarget
from reminders.store import Reminder, Subscription
from tests.reminders.conftest import ROME, event_yaml

UTC = dt.UTC


def rome(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ROME)


def sent_keys(service, now):  # type: ignore[no-untyped-def]
    """Claim what is due at `now`, acknowledge it all, and return the messages."""
    messages = service.due(now)
    for message in messages:
        service.mark_delivered(message.key, message_id=1, now=now)
    return messages


def test_subscribe_confirms_exact_local_times(knowledge, make_service, clock):
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    service = make_service()
    confirmation = service.subscribe(user_id=1, chat_id=1, event_id="ev-a", lang="en")
    assert confirmation.starts_at == rome(2026, 12, 5, 10, 0)
    assert confirmation.reminders_at == (rome(2026, 12, 4, 10, 0), rome(2026, 12, 5, 9, 0))
    assert "Sat 5 Dec 2026, 10:00" in confirmation.text
    assert "Fri 4 Dec 2026, 10:00" in confirmation.text
    assert "Sat 5 Dec 2026, 09:00" in confirmation.text
    italian = service.subscribe(user_id=2, chat_id=2, event_id="ev-a", lang="it")
    assert "sab 5 dic 2026, ore 10:00" in italian.text
    again = service.subscribe(user_id=1, chat_id=1, event_id="ev-a", lang="en")
    assert again.already and again.subscription_id == confirmation.subscription_id


def test_unknown_or_past_event_is_a_clear_error(knowledge, make_service):
    knowledge.write("a", event_yaml("ev-old", "2026-01-05T10:00:00"))
    service = make_service()
    with pytest.raises(UnknownTarget, match="no event with id 'ev-nope'"):
        service.subscribe(user_id=1, chat_id=1, event_id="ev-nope", lang="en")
    with pytest.raises(NoUpcomingDate, match="ev-old"):
        service.subscribe(user_id=1, chat_id=1, event_id="ev-old", lang="en")


def test_reminder_fires_once_at_due_time_with_ics(knowledge, make_service, clock):
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    service = make_service()
    service.subscribe(user_id=1, chat_id=1, event_id="ev-a", lang="en")
    assert service.due(rome(2026, 12, 4, 9, 59)) == []
    [message] = sent_keys(service, rome(2026, 12, 4, 10, 0))
    assert message.chat_id == 1 and "Workshop ev-a" in message.text and "tomorrow" in message.text
    calendar = Calendar.from_ical(message.ics)
    [vevent] = calendar.walk("VEVENT")
    assert vevent.decoded("dtstart") == rome(2026, 12, 5, 10, 0)
    assert any(b.callback_data and b.callback_data.startswith("rem:cancel:")
               for row in message.buttons for b in row)
    assert service.due(rome(2026, 12, 4, 10, 5)) == []  # never twice
    [last] = sent_keys(service, rome(2026, 12, 5, 9, 0))
    assert "in 1 hour" in last.text


def test_cancel_withdraws_pending_reminders(knowledge, make_service):
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    service = make_service()
    sub = service.subscribe(user_id=1, chat_id=1, event_id="ev-a", lang="en")
    assert [u.target_id for u in service.upcoming(1)] == ["ev-a"]
    service.cancel(user_id=1, subscription_id=sub.subscription_id)
    assert service.upcoming(1) == []
    assert service.due(rome(2026, 12, 5, 9, 30)) == []
    with pytest.raises(UnknownSubscription, match=str(sub.subscription_id)):
        service.cancel(user_id=1, subscription_id=sub.subscription_id)
    with pytest.raises(UnknownSubscription):
        service.cancel(user_id=99, subscription_id=sub.subscription_id)


def test_restart_between_subscribe_and_due_loses_and_duplicates_nothing(
    knowledge, make_service
):
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    make_service().subscribe(user_id=1, chat_id=1, event_id="ev-a", lang="en")
    after_restart = make_service()  # a new process on the same SQLite file
    assert after_restart.recover() == 0
    [message] = sent_keys(after_restart, rome(2026, 12, 4, 10, 0))
    third = make_service()
    third.recover()
    assert third.due(rome(2026, 12, 4, 10, 1)) == []
    assert len(sent_keys(third, rome(2026, 12, 5, 9, 0))) == 1


def test_crash_after_claim_resends_only_the_unacknowledged(knowledge, make_service):
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    first = make_service()
    for user in (1, 2, 3):
        first.subscribe(user_id=user, chat_id=user, event_id="ev-a", lang="en")
    claimed = first.due(rome(2026, 12, 4, 10, 0))
    assert len(claimed) == 3
    first.mark_delivered(claimed[0].key, message_id=7)  # acknowledged before the crash
    # crash: claimed[1] and claimed[2] never acknowledged
    restarted = make_service()
    assert restarted.recover() == 2
    again = restarted.due(rome(2026, 12, 4, 10, 2))
    assert sorted(m.chat_id for m in again) == sorted(m.chat_id for m in claimed[1:])


def test_missed_during_downtime_sent_if_event_not_started_else_dropped(
    knowledge, make_service, caplog
):
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    service = make_service()
    service.subscribe(user_id=1, chat_id=1, event_id="ev-a", lang="en")
    # Down from Friday 09:00 to Saturday 08:00: the "1 day" reminder is late but still useful.
    [late] = sent_keys(service, rome(2026, 12, 5, 8, 0))
    assert "tomorrow" in late.text
    # Down again until after the start: the "1 hour" reminder is dropped, with a log line.
    with caplog.at_level(logging.INFO, logger="reminders.service"):
        assert service.due(rome(2026, 12, 5, 10, 30)) == []
    assert any("dropped" in r.getMessage() and "ev-a" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Spring forward, Sunday 29 March 2026: 02:00 CET -> 03:00 CEST.
        ("2026-03-29T10:00:00", [dt.datetime(2026, 3, 28, 9, 0, tzinfo=UTC),     # 10:00 CET
                                 dt.datetime(2026, 3, 29, 7, 0, tzinfo=UTC)]),    # 09:00 CEST
        ("2026-03-30T02:30:00", [dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC),    # 02:30 absent
                                 dt.datetime(2026, 3, 29, 23, 30, tzinfo=UTC)]),  # -> 03:30 CEST
        # Fall back, Sunday 25 October 2026: 03:00 CEST -> 02:00 CET.
        ("2026-10-25T10:00:00", [dt.datetime(2026, 10, 24, 8, 0, tzinfo=UTC),    # 10:00 CEST
                                 dt.datetime(2026, 10, 25, 8, 0, tzinfo=UTC)]),   # 09:00 CET
        ("2026-10-25T03:30:00", [dt.datetime(2026, 10, 24, 1, 30, tzinfo=UTC),   # 03:30 CEST
                                 dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)]),  # 02:30 CET
    ],
)
def test_dst_nights_keep_wall_clock_days_and_exact_hours(
    knowledge, make_service, clock, start, expected
):
    clock.set(rome(2026, 1, 10, 12, 0))
    knowledge.write("a", event_yaml("ev-dst", start))
    service = make_service()
    confirmation = service.subscribe(user_id=1, chat_id=1, event_id="ev-dst", lang="en")
    assert [when.astimezone(UTC) for when in confirmation.reminders_at] == expected
    for due in expected:
        assert service.due(due - dt.timedelta(seconds=1)) == []
        assert len(sent_keys(service, due)) == 1


def test_weekly_event_across_dst_keeps_local_time(knowledge, make_service, clock):
    clock.set(rome(2026, 3, 23, 12, 0))
    knowledge.write("a", event_yaml("ev-sat", "2026-03-21T10:00:00", extra="rrule: FREQ=WEEKLY"))
    service = make_service()
    before = service.subscribe(user_id=1, chat_id=1, event_id="ev-sat", lang="en")
    assert before.starts_at == rome(2026, 3, 28, 10, 0)  # Saturday before the change
    assert before.starts_at.utcoffset() == dt.timedelta(hours=1)
    clock.set(rome(2026, 3, 28, 12, 0))
    after = service.subscribe(user_id=1, chat_id=1, event_id="ev-sat", lang="en")
    assert after.starts_at == rome(2026, 4, 4, 10, 0)  # still 10:00, now CEST
    assert after.starts_at.utcoffset() == dt.timedelta(hours=2)


def test_event_moved_moves_reminders_and_tells_subscribers_once(knowledge, make_service, clock):
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    service = make_service()
    service.subscribe(user_id=1, chat_id=1, event_id="ev-a", lang="en")
    kb = knowledge.write("a", event_yaml("ev-a", "2026-12-12T18:30:00"))
    [notice] = service.reconcile(kb)
    assert notice.kind == "moved" and notice.new_start == rome(2026, 12, 12, 18, 30)
    assert service.reconcile(kb) == []  # idempotent
    [moved] = sent_keys(service, clock.now())
    assert moved.kind == "moved" and "time has changed" in moved.text
    assert "Sat 5 Dec 2026, 10:00" in moved.text and "Sat 12 Dec 2026, 18:30" in moved.text
    assert moved.ics is not None
    assert service.due(rome(2026, 12, 4, 10, 0)) == []  # the old "1 day" is gone
    [upcoming] = service.upcoming(1)
    assert upcoming.starts_at == rome(2026, 12, 12, 18, 30)
    assert len(sent_keys(service, rome(2026, 12, 11, 18, 30))) == 1
    assert len(sent_keys(service, rome(2026, 12, 12, 17, 30))) == 1


def test_event_cancelled_or_removed_tells_subscribers_and_drops_reminders(
    knowledge, make_service, clock
):
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    knowledge.write("b", event_yaml("ev-b", "2026-12-06T10:00:00"))
    service = make_service()
    service.subscribe(user_id=1, chat_id=1, event_id="ev-a", lang="it")
    service.subscribe(user_id=1, chat_id=1, event_id="ev-b", lang="en")
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00", extra="status: cancelled"))
    kb = knowledge.remove("b")
    notices = service.reconcile(kb)
    assert sorted((n.kind, n.target_id) for n in notices) == [
        ("cancelled", "ev-a"), ("cancelled", "ev-b")]
    messages = sent_keys(service, clock.now())
    texts = sorted(m.text for m in messages)
    assert any(text.startswith("❌ Annullato: Laboratorio ev-a") for text in texts)
    assert any(text.startswith("❌ Cancelled: ev-b") for text in texts)  # title gone with the file
    assert service.upcoming(1) == []
    assert service.due(rome(2026, 12, 5, 9, 0)) == []


def test_quiet_hours_hold_notices_and_digest_but_not_requested_reminders(
    knowledge, make_service, clock
):
    knowledge.write("late", event_yaml("ev-late", "2026-11-10T22:30:00"))
    knowledge.write("far", event_yaml("ev-far", "2026-11-20T18:00:00"))
    service = make_service()
    service.subscribe(user_id=1, chat_id=1, event_id="ev-late", lang="en")
    service.subscribe(user_id=1, chat_id=1, event_id="ev-far", lang="en")
    # The resident asked for these reminders (22:30, 21:30): quiet hours do not hold them back.
    assert len(sent_keys(service, rome(2026, 11, 9, 22, 30))) == 1
    [reminder] = sent_keys(service, rome(2026, 11, 10, 21, 30))
    assert reminder.kind == "reminder"
    # Staff move the far event at 22:00: the notice waits for 08:00.
    clock.set(rome(2026, 11, 10, 22, 0))
    service.reconcile(knowledge.write("far", event_yaml("ev-far", "2026-11-21T18:00:00")))
    assert service.due(rome(2026, 11, 10, 22, 0)) == []
    assert service.due(rome(2026, 11, 11, 7, 59)) == []
    assert service.next_wakeup(rome(2026, 11, 10, 22, 1)) == rome(2026, 11, 11, 8, 0)
    [notice] = sent_keys(service, rome(2026, 11, 11, 8, 0))
    assert notice.kind == "moved"


def test_weekly_digest_opt_in_matches_interests_once_a_week(knowledge, make_service, clock):
    knowledge.write("a", event_yaml("ev-make", "2026-11-11T17:00:00", topic="making"))
    knowledge.write("b", event_yaml("ev-music", "2026-11-12T17:00:00", topic="music"))
    knowledge.write("c", event_yaml("ev-next-week", "2026-11-17T17:00:00", topic="music"))
    service = make_service()
    clock.set(rome(2026, 11, 8, 20, 0))  # Sunday
    service.set_digest(user_id=1, chat_id=1, lang="en", opted_in=True, interests=["music"])
    service.set_digest(user_id=2, chat_id=2, lang="en", opted_in=False)
    assert service.next_wakeup(clock.now()) == rome(2026, 11, 9, 9, 0)  # Monday 09:00
    assert service.due(rome(2026, 11, 9, 8, 59)) == []
    [digest] = sent_keys(service, rome(2026, 11, 9, 9, 0))
    assert digest.kind == "digest" and digest.chat_id == 1
    assert "Workshop ev-music" in digest.text
    assert "ev-make" not in digest.text and "ev-next-week" not in digest.text
    assert sent_keys(service, rome(2026, 11, 12, 9, 0)) == []  # once a week
    [next_week] = sent_keys(service, rome(2026, 11, 16, 9, 0))
    assert "Workshop ev-next-week" in next_week.text


def test_digest_missed_at_night_waits_for_morning(knowledge, make_service, clock):
    service = make_service()
    service.set_digest(user_id=1, chat_id=1, lang="it", opted_in=True)
    # The bot was down from Monday 08:00 to 23:00: the digest waits for Tuesday 08:00.
    assert service.due(rome(2026, 11, 9, 23, 0)) == []
    [digest] = sent_keys(service, rome(2026, 11, 10, 8, 0))
    assert "Nessun evento" in digest.text


def test_user_offsets_replan_active_reminders(knowledge, make_service):
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    service = make_service()
    service.subscribe(user_id=1, chat_id=1, event_id="ev-a", lang="en")
    assert service.set_offsets(user_id=1, offsets=["30m", "1w"]) == ("1w", "30m")
    [upcoming] = service.upcoming(1)
    assert upcoming.next_reminder_at == rome(2026, 11, 28, 10, 0)
    assert len(sent_keys(service, rome(2026, 11, 28, 10, 0))) == 1
    assert service.due(rome(2026, 12, 4, 10, 0)) == []  # the old "1 day" is gone
    assert len(sent_keys(service, rome(2026, 12, 5, 9, 30))) == 1


def test_blocked_user_is_unsubscribed_and_privacy_calls(knowledge, make_service):
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    service = make_service()
    service.subscribe(user_id=1, chat_id=1, event_id="ev-a", lang="en")
    service.set_digest(user_id=1, chat_id=1, lang="en", opted_in=True, interests=["music"])
    claimed = service.due(rome(2026, 12, 4, 10, 0))  # the "1 day" reminder and the late digest
    assert sorted(m.kind for m in claimed) == ["digest", "reminder"]
    message = next(m for m in claimed if m.kind == "reminder")
    assert service.mark_blocked(message.key) == 1  # the "1 hour" reminder withdrawn
    assert service.upcoming(1) == []
    assert service.digest_settings(1).opted_in is False
    store = service.store
    described = store.describe_user(1)
    assert described["digest"] == {"opted_in": False, "interests": "music"}
    assert store.forget_user(1) >= 4
    assert store.describe_user(1)["reminders"] == []
    with store.session() as s:
        assert s.query(Subscription).count() == 0 and s.query(Reminder).count() == 0


def test_programme_reminder_uses_next_weekly_session(knowledge, make_service, clock):
    (knowledge.root / "programmes").mkdir()
    (knowledge.root / "programmes" / "p.yaml").write_text(
        """\
programmes:
  - id: prog-code
    title: Coding club
    description: Per ragazzi.
    learning_type: non-formal
    topics: [digital-skills]
    audiences: [teens]
    provider: FabLab
    schedule:
      start_date: 2026-10-06
      end_date: 2026-12-15
      weekly:
        - {day: tue, start: "10:00", end: "11:30"}
""", encoding="utf-8")
    knowledge.reload()
    service = make_service()
    confirmation = service.subscribe_programme(user_id=1, chat_id=1, programme_id="prog-code",
                                               lang="en")
    assert confirmation.starts_at == rome(2026, 11, 3, 10, 0)
    [message] = sent_keys(service, rome(2026, 11, 3, 9, 0))
    [vevent] = Calendar.from_ical(message.ics).walk("VEVENT")
    assert vevent.decoded("dtend") == rome(2026, 11, 3, 11, 30)


def test_manual_clock_rejects_naive_times():
    with pytest.raises(ValueError, match="aware"):
        ManualClock(dt.datetime(2026, 1, 1))


def test_programme_reminder_on_a_monthly_rule_is_due_before_the_second_saturday(
    knowledge, make_service, clock, sample_knowledge_dir
):
    # The sample folder's record as it is: FREQ=MONTHLY;BYDAY=2SA with a Saturday 10:00 slot.
    sample = yaml.safe_load(
        (sample_knowledge_dir / "programmes" / "school-support.yaml").read_text(encoding="utf-8")
    )
    [record] = [p for p in sample["programmes"] if p["id"] == "genitori-insieme"]
    (knowledge.root / "programmes").mkdir()
    (knowledge.root / "programmes" / "p.yaml").write_text(
        yaml.safe_dump({"programmes": [record]}, allow_unicode=True), encoding="utf-8"
    )
    knowledge.reload()
    service = make_service()
    confirmation = service.subscribe_programme(user_id=1, chat_id=1,
                                               programme_id="genitori-insieme", lang="en")
    # Monday 2 November: the second Saturday is the 14th, not Saturday the 7th.
    assert confirmation.starts_at == rome(2026, 11, 14, 10, 0)
    assert confirmation.reminders_at == (rome(2026, 11, 13, 10, 0), rome(2026, 11, 14, 9, 0))
    assert sent_keys(service, rome(2026, 11, 6, 10, 0)) == []
    [message] = sent_keys(service, rome(2026, 11, 13, 10, 0))
    [vevent] = Calendar.from_ical(message.ics).walk("VEVENT")
    assert vevent.decoded("dtstart") == rome(2026, 11, 14, 10, 0)
