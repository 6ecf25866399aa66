"""FlowService: what the bot and the terminal call to list, run and score self-assessments.

It holds no Telegram code. Texts come back localised and in Telegram HTML (content is escaped
here), so every adapter shows the same words. Progress is saved after every step.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Protocol

from babel import Locale, UnknownLocaleError
from babel.lists import format_list

from flows import engine
from flows.chart import render_chart
from flows.definitions import FlowDefinition, load_definitions
from flows.errors import NoProgress, StaleStep, UnknownFlow
from flows.recommend import Recommendation, recommend, suggested_topics
from flows.scoring import Result, Score, change, from_means
from flows.store import FlowStore, SavedResult
from learncity.content.errors import KnowledgeError
from learncity.content.models import Programme, text_in
from learncity.i18n import t

log = logging.getLogger(__name__)

ACTIVE_FOR = dt.timedelta(minutes=30)  # how long an untouched flow still catches free text
SHOWN_CHANGE = 0.1  # smaller changes since last time are not worth a line


class ProgrammeSource(Protocol):
    """Return the programmes of the knowledge folder as they are now (it can reload)."""

    def __call__(self) -> Mapping[str, Programme]: ...


@dataclass(frozen=True)
class FlowSummary:
    """One flow in the /skills list."""

    id: str
    title: str
    minutes: int
    items: int
    done: int | None  # answers so far when in progress, else None
    has_results: bool


@dataclass(frozen=True)
class Option:
    """One answer button."""

    value: int
    label: str
    selected: bool


@dataclass(frozen=True)
class StepView:
    """A question ready to show: HTML text, the "4/9" line, the answer options."""

    flow_id: str
    index: int
    number: int
    total: int
    progress: str
    text: str
    options: tuple[Option, ...]
    can_go_back: bool


@dataclass(frozen=True)
class Suggestion:
    """A recommended programme with its title and the reason it is suggested."""

    number: int
    programme_id: str
    title: str
    reason: str
    kind: str  # "grow" or "strength"


@dataclass(frozen=True)
class ResultsView:
    """A scored questionnaire ready to show: HTML text, suggestions, what the chart needs."""

    flow_id: str
    text: str
    result: Result
    suggestions: tuple[Suggestion, ...]
    changes: Mapping[str, float]
    previous: SavedResult | None
    finished_at: dt.datetime
    links: tuple[tuple[str, str], ...] = field(default=())  # (label, url)
    digest_topics: tuple[str, ...] = field(default=())  # Topic values for the weekly digest


Outcome = StepView | ResultsView


class FlowService:
    """Guided self-assessments for one city: definitions, progress, results and suggestions."""

    def __init__(
        self,
        *,
        assessments_dir: Path,
        store: FlowStore,
        programmes: ProgrammeSource,
        clock: Callable[[], dt.datetime] | None = None,
        zone: dt.tzinfo = dt.UTC,
    ) -> None:
        self._dir = assessments_dir
        self._store = store
        self._programmes = programmes
        self._zone = zone
        self._clock = clock or (lambda: dt.datetime.now(zone))
        self._flows: dict[str, FlowDefinition] = {}
        self._errors: list[KnowledgeError] = []
        self.reload()

    # -- definitions ----------------------------------------------------------------------------

    def reload(self) -> list[KnowledgeError]:
        """Reload the definitions (a broken file keeps its last good version); return problems."""
        self._flows, self._errors = load_definitions(self._dir, previous=self._flows)
        log.info("loaded %d flow definitions, %d problems", len(self._flows), len(self._errors))
        return list(self._errors)

    @property
    def errors(self) -> list[KnowledgeError]:
        """Return the problems of the last load."""
        return list(self._errors)

    def definition(self, flow_id: str) -> FlowDefinition:
        """Return the definition of `flow_id`."""
        try:
            return self._flows[flow_id]
        except KeyError:
            raise UnknownFlow(flow_id) from None

    def flows(self, user_id: int, *, lang: str) -> list[FlowSummary]:
        """Return the flows to offer, with the user's progress in each."""
        progress = {p.flow_id: p for p in self._store.progress_of(user_id)}
        results = {r.flow_id for r in self._store.results(user_id, limit=100)}
        summaries = []
        for flow in sorted(self._flows.values(), key=lambda f: (f.order, f.id)):
            saved = progress.get(flow.id)
            summaries.append(
                FlowSummary(
                    id=flow.id,
                    title=flow.text(flow.title, lang),
                    minutes=flow.minutes,
                    items=len(flow.items),
                    done=len(saved.answers) if saved else None,
                    has_results=flow.id in results,
                )
            )
        return summaries

    def intro(self, flow_id: str, *, lang: str) -> str:
        """Return the HTML introduction of a flow (title, intro, disclaimer, credit)."""
        flow = self.definition(flow_id)
        text = t(
            "flows.intro",
            lang,
            title=escape(flow.text(flow.title, lang)),
            intro=escape(flow.text(flow.intro, lang)),
            disclaimer=escape(flow.text(flow.disclaimer, lang)),
        )
        if flow.credit:
            text += "\n\n" + t("flows.credit", lang, credit=escape(flow.text(flow.credit, lang)))
        notice = self.language_notice(flow_id, lang=lang)
        return f"{notice}\n\n{text}" if notice else text

    def language_notice(self, flow_id: str, *, lang: str) -> str | None:
        """Return, in `lang`, which languages a flow has and which one it runs in; None if `lang`.

        Said once, with the introduction: "available in Italian and English; continuing in
        English". The language names come from CLDR (babel), in the resident's language.
        """
        flow = self.definition(flow_id)
        used = flow.language_for(lang)
        if used == lang:
            return None
        names = [_language_in(code, lang) for code in flow.languages()]
        return t("flows.language_fallback", lang, languages=escape(_list(names, lang)),
                 language=escape(_language_in(used, lang)))

    # -- running a flow -------------------------------------------------------------------------

    def start(self, user_id: int, flow_id: str, *, lang: str) -> StepView:
        """Start `flow_id` from the first question (any earlier progress in it is replaced)."""
        flow = self.definition(flow_id)
        progress = engine.start(flow, now=self._clock())
        self._store.save_progress(user_id, progress)
        return self._step_view(flow, progress, lang)

    def resume(self, user_id: int, flow_id: str, *, lang: str) -> StepView:
        """Return the current question of a saved progress (after Pause or a restart)."""
        flow = self.definition(flow_id)
        progress = self._load(user_id, flow_id)
        resumed = engine.resume(flow, progress, now=self._clock())
        self._store.save_progress(user_id, resumed)
        if engine.is_complete(flow, resumed):
            # The definition changed under a finished-but-unscored progress: score it now.
            raise NoProgress(user_id, flow_id)
        return self._step_view(flow, resumed, lang)

    def answer(self, user_id: int, flow_id: str, value: int, *, at: int, lang: str) -> Outcome:
        """Record the answer to question `at`; return the next question or the results.

        Raises StaleStep when `at` is not the current question (an old button), NoProgress when
        nothing is in progress (a button from a finished or cancelled questionnaire).
        """
        flow = self.definition(flow_id)
        progress = self._load(user_id, flow_id)
        now = self._clock()
        progress = engine.answer(flow, progress, value, now=now, at=at)
        if not engine.is_complete(flow, progress):
            self._store.save_progress(user_id, progress)
            return self._step_view(flow, progress, lang)
        result = engine.finish(flow, progress)
        previous = next(iter(self._store.results(user_id, history_key=flow.history_key, limit=1)),
                        None)
        self._store.finish(
            user_id,
            flow_id=flow.id,
            history_key=flow.history_key,
            version=flow.version,
            finished_at=now,
            means=result.means(),
        )
        return self._results_view(flow, result, previous, now, lang)

    def back(self, user_id: int, flow_id: str, *, at: int | None = None, lang: str) -> StepView:
        """Go back one question; `at` guards against an old button."""
        flow = self.definition(flow_id)
        progress = self._load(user_id, flow_id)
        if at is not None and at != progress.position:
            raise StaleStep(flow_id, progress.position, at)
        progress = engine.back(flow, progress, now=self._clock())
        self._store.save_progress(user_id, progress)
        return self._step_view(flow, progress, lang)

    def pause(self, user_id: int, flow_id: str, *, lang: str) -> str:
        """Pause the flow (answers stay saved); return the confirmation text."""
        flow = self.definition(flow_id)
        progress = engine.pause(self._load(user_id, flow_id), now=self._clock())
        self._store.save_progress(user_id, progress)
        number = min(progress.position, len(flow.items) - 1) + 1
        return t("flows.paused", lang, number=number, total=len(flow.items))

    def cancel(self, user_id: int, flow_id: str, *, lang: str) -> str:
        """Drop the flow's progress; return the confirmation text."""
        self._store.delete_progress(user_id, flow_id)
        return t("flows.cancelled", lang)

    def active_flow(self, user_id: int) -> str | None:
        """Return the flow the user is answering right now (not paused, touched recently)."""
        now = self._clock()
        for progress in self._store.progress_of(user_id):
            if not progress.paused and now - progress.updated_at <= ACTIVE_FOR:
                return progress.flow_id
        return None

    def has_finished(self, user_id: int, flow_id: str) -> bool:
        """Return whether the user has a saved result of `flow_id`."""
        return any(r.flow_id == flow_id for r in self._store.results(user_id, limit=100))

    # -- results --------------------------------------------------------------------------------

    def last_results(self, user_id: int, flow_id: str, *, lang: str) -> ResultsView | None:
        """Return the user's latest result of `flow_id`, compared with the one before."""
        flow = self.definition(flow_id)
        saved = self._store.results(user_id, history_key=flow.history_key, limit=20)
        mine = [r for r in saved if r.flow_id == flow_id]
        if not mine:
            return None
        latest = mine[0]
        earlier = next((r for r in saved if r.finished_at < latest.finished_at
                        or (r.finished_at == latest.finished_at and r.id < latest.id)), None)
        result = from_means(flow, latest.means)
        return self._results_view(flow, result, earlier, latest.finished_at, lang)

    def digest_topics(self, user_id: int, flow_id: str) -> tuple[str, ...] | None:
        """Return the digest topics suggested by the user's latest result, None without one."""
        view = self.last_results(user_id, flow_id, lang="en")
        return None if view is None else view.digest_topics

    def topic_names(self, topics: Sequence[str], *, lang: str) -> str:
        """Return "a, b and c" with the topics' names in `lang`."""
        return _join([t(f"flows.topics.{topic}", lang) for topic in topics], t("flows.and", lang))

    def chart(self, view: ResultsView, *, lang: str) -> bytes:
        """Return the PNG picture of a result, with the previous result marked when there is one."""
        flow = self.definition(view.flow_id)
        previous_label = ""
        if view.previous is not None:
            previous_label = t("flows.chart_previous", lang,
                               when=self.when(view.previous.finished_at, lang))
        return render_chart(
            flow,
            view.result,
            lang=flow.language_for(lang),  # the chart's only words are the flow's own
            title=flow.text(flow.title, lang),
            previous=view.previous.means if view.previous else None,
            previous_label=previous_label,
        )

    def chart_caption(self, flow_id: str, *, lang: str) -> str:
        """Return the caption of the chart picture (plain text)."""
        flow = self.definition(flow_id)
        return t("flows.chart_caption", lang, title=flow.text(flow.title, lang),
                 low=flow.scale.low, high=flow.scale.high)

    def programme_details(self, programme_id: str, *, lang: str) -> str:
        """Return a short HTML card of a programme."""
        programme = self._programmes().get(programme_id)
        if programme is None:
            return t("flows.details_missing", lang)
        lines = [t("flows.details", lang, title=escape(text_in(programme.title, lang)),
                   description=escape(text_in(programme.description, lang)))]
        lines.append(t("flows.details_provider", lang, provider=escape(programme.provider)))
        if programme.venue is not None:
            venue = ", ".join(p for p in (programme.venue.name, programme.venue.address) if p)
            lines.append(t("flows.details_venue", lang, venue=escape(venue)))
        elif programme.online:
            lines.append(t("flows.details_venue", lang, venue=t("flows.details_online", lang)))
        if programme.cost.free:
            lines.append(t("flows.details_cost_free", lang))
        elif programme.cost.amount_eur is not None:
            lines.append(t("flows.details_cost", lang, amount=f"{programme.cost.amount_eur:g}"))
        contact = programme.contact
        reach = [p for p in (contact.phone, contact.email, contact.url or programme.url) if p]
        if reach:
            lines.append(t("flows.details_contact", lang, contact=escape(" · ".join(reach))))
        return "\n".join(lines)

    def when(self, moment: dt.datetime, lang: str) -> str:
        """Return "March", "21 November" or "March 2025", the way "since ..." reads best."""
        local = moment.astimezone(self._zone)
        now = self._clock().astimezone(self._zone)
        month = t(f"flows.months.{local.month}", lang)
        if local.year != now.year:
            return f"{month} {local.year}"
        if local.month == now.month:
            return f"{local.day} {month}"
        return month

    # -- privacy --------------------------------------------------------------------------------

    def describe_user(self, user_id: int) -> dict[str, object]:
        """Return what the flows keep about the user."""
        return self._store.describe_user(user_id)

    def forget_user(self, user_id: int) -> int:
        """Delete the user's progress and results; return how many rows went."""
        return self._store.forget_user(user_id)

    # -- rendering ------------------------------------------------------------------------------

    def _load(self, user_id: int, flow_id: str) -> engine.Progress:
        progress = self._store.load_progress(user_id, flow_id)
        if progress is None:
            raise NoProgress(user_id, flow_id)
        return progress

    def _step_view(self, flow: FlowDefinition, progress: engine.Progress, lang: str) -> StepView:
        step = engine.step(flow, progress)
        progress_line = t("flows.progress", lang, number=step.number, total=step.total)
        competence = flow.competence(step.item.competence)
        text = t(
            "flows.question",
            lang,
            progress=progress_line,
            competence=escape(flow.text(competence.name, lang)),
            text=escape(flow.text(step.item.text, lang)),
        )
        options = tuple(
            Option(value=o.value, label=flow.text(o.label, lang),
                   selected=o.value == step.selected)
            for o in flow.scale.options
        )
        return StepView(
            flow_id=flow.id,
            index=step.index,
            number=step.number,
            total=step.total,
            progress=progress_line,
            text=text,
            options=options,
            can_go_back=step.index > 0,
        )

    def _results_view(
        self,
        flow: FlowDefinition,
        result: Result,
        previous: SavedResult | None,
        finished_at: dt.datetime,
        lang: str,
    ) -> ResultsView:
        today = finished_at.astimezone(self._zone).date()
        picks = recommend(flow, result, self._programmes(), today=today)
        suggestions = tuple(self._suggestion(flow, pick, n, lang)
                            for n, pick in enumerate(picks, start=1))
        changes = change(result.means(), previous.means) if previous else {}
        text = self._results_text(flow, result, suggestions, changes, previous, lang)
        links = tuple((flow.text(link.label, lang), link.url) for link in flow.closing.links)
        return ResultsView(
            digest_topics=suggested_topics(flow, result, picks),
            flow_id=flow.id,
            text=text,
            result=result,
            suggestions=suggestions,
            changes=changes,
            previous=previous,
            finished_at=finished_at,
            links=links,
        )

    def _suggestion(
        self, flow: FlowDefinition, pick: Recommendation, number: int, lang: str
    ) -> Suggestion:
        programme = self._programmes()[pick.programme_id]
        direct = pick.competence in pick.skills
        what = [t(f"flows.skills.{code}", lang) for code in pick.skills if code != pick.competence]
        what += [t(f"flows.topics.{code}", lang) for code in pick.topics]
        joined = _join(what, t("flows.and", lang))
        competence = flow.text(flow.competence(pick.competence).name, lang).lower()
        key = f"flows.reason_{pick.kind}_{'direct' if direct else 'indirect'}"
        reason = t(key, lang, competence=competence, what=joined)
        if direct and what:
            reason += t("flows.reason_also", lang, what=joined)
        return Suggestion(
            number=number,
            programme_id=pick.programme_id,
            title=text_in(programme.title, lang),
            reason=reason,
            kind=pick.kind,
        )

    def _results_text(
        self,
        flow: FlowDefinition,
        result: Result,
        suggestions: tuple[Suggestion, ...],
        changes: Mapping[str, float],
        previous: SavedResult | None,
        lang: str,
    ) -> str:
        bands = flow.scoring.bands

        def label(s: Score) -> str:
            return escape(flow.text(bands[s.band].label, lang))

        def name(competence_id: str) -> str:
            return escape(flow.text(flow.competence(competence_id).name, lang))

        parts = [t("flows.results_title", lang, title=escape(flow.text(flow.title, lang)))]
        if len(flow.areas) > 1:
            parts.append("\n".join(
                t("flows.area_line", lang, name=escape(flow.text(flow.area(s.id).name, lang)),
                  mean=f"{s.mean:.1f}", band=label(s))
                for s in result.areas
            ))
        parts.append("\n".join(
            t("flows.competence_line", lang, name=name(s.id), mean=f"{s.mean:.1f}", band=label(s))
            for s in result.competences
        ))
        if result.same_answers:
            parts.append(t("flows.same_answers", lang))
        if result.even:
            parts.append(t("flows.even", lang))
        if result.strengths:
            top = result.competence(result.strengths[0])
            lines = [t("flows.strengths_title", lang)]
            lines += [t("flows.strength_line", lang, name=name(c)) for c in result.strengths]
            lines.append(f"<i>{escape(flow.text(bands[top.band].advice, lang))}</i>")
            parts.append("\n".join(lines))
        if result.growth:
            lines = [t("flows.growth_title", lang)]
            for competence_id in result.growth:
                lines.append(t("flows.growth_line", lang, name=name(competence_id)))
                tip = flow.competence(competence_id).tip
                if tip:
                    lines.append(t("flows.tip_line", lang, tip=escape(flow.text(tip, lang))))
            lowest = result.competence(result.growth[0])
            lines.append(f"<i>{escape(flow.text(bands[lowest.band].advice, lang))}</i>")
            parts.append("\n".join(lines))
        if previous is not None:
            when = self.when(previous.finished_at, lang)
            shown = [
                t("flows.change_line", lang, name=name(c.id), delta=f"{changes[c.id]:+.1f}",
                  when=when)
                for c in flow.competences
                if abs(changes.get(c.id, 0.0)) >= SHOWN_CHANGE
            ]
            if shown:
                parts.append("\n".join([t("flows.change_title", lang), *shown]))
            else:
                parts.append(t("flows.no_change", lang, when=when))
        if suggestions:
            lines = [t("flows.recommend_title", lang)]
            lines += [
                t("flows.recommend_line", lang, number=s.number, title=escape(s.title),
                  reason=escape(s.reason))
                for s in suggestions
            ]
            parts.append("\n".join(lines))
        else:
            parts.append(t("flows.no_programmes", lang))
        closing = []
        if flow.closing.text:
            closing.append(escape(flow.text(flow.closing.text, lang)))
        closing += [
            f'🔗 <a href="{escape(link.url, quote=True)}">{escape(flow.text(link.label, lang))}</a>'
            for link in flow.closing.links
        ]
        if closing:
            parts.append("\n".join(closing))
        parts.append(f"<i>{escape(flow.text(flow.disclaimer, lang))}</i>")
        return "\n\n".join(parts)


def _language_in(code: str, lang: str) -> str:
    """Return the name of language `code` in language `lang` ("anglais"), or the code itself."""
    try:
        return str(Locale.parse(lang).languages.get(code) or code)
    except (ValueError, UnknownLocaleError):
        return code


def _list(names: Sequence[str], lang: str) -> str:
    """Return "a, b and c" in language `lang` (CLDR list patterns)."""
    try:
        return format_list(list(names), locale=lang)
    except (ValueError, UnknownLocaleError):
        return ", ".join(names)


def _join(words: list[str], and_word: str) -> str:
    """Return "a, b and c"."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {and_word} {words[-1]}"


__all__ = [
    "FlowService",
    "FlowSummary",
    "Option",
    "Outcome",
    "ProgrammeSource",
    "ResultsView",
    "StepView",
    "Suggestion",
]
