"""Recommendations: local programmes for the areas to grow and one that builds on a strength.

A programme fits a competence through the flow's rule for it (programme skill codes and topics):
each shared skill code counts 2, each shared topic 1. Areas to grow take turns, lowest first, so
two of them get a programme each before any gets a second. Programmes that have ended, and
programmes only for children (an age limit under 16), are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from flows.definitions import FlowDefinition
from flows.scoring import Result
from learncity.content.models import CITY_ZONE, Programme

ADULT_AGE = 16  # who takes a self-assessment; programmes only for younger people are left out
GROW_LIMIT = 3
STRENGTH_LIMIT = 1


@dataclass(frozen=True)
class Recommendation:
    """One programme suggested for one competence, with what makes it fit (the reason)."""

    programme_id: str
    competence: str
    kind: Literal["grow", "strength"]
    skills: tuple[str, ...]  # the programme's skill codes the rule asked for
    topics: tuple[str, ...]  # the programme's topics the rule asked for
    fit: int


def fit(flow: FlowDefinition, competence: str, programme: Programme) -> tuple[int, tuple[str, ...],
                                                                           tuple[str, ...]]:
    """Return how well `programme` builds `competence`, and the shared skills and topics."""
    rule = flow.rule(competence)
    skills = tuple(str(s) for s in programme.skills if s in rule.skills)
    topics = tuple(str(t) for t in programme.topics if t in rule.topics)
    return 2 * len(skills) + len(topics), skills, topics


def recommend(
    flow: FlowDefinition,
    result: Result,
    programmes: Mapping[str, Programme],
    *,
    today: dt.date | None = None,
    grow_limit: int = GROW_LIMIT,
    strength_limit: int = STRENGTH_LIMIT,
) -> list[Recommendation]:
    """Return programmes for the areas to grow, then for a strength, best fit first."""
    open_programmes = {
        pid: p
        for pid, p in sorted(programmes.items())
        if not _ended(p, today) and (p.age_max is None or p.age_max >= ADULT_AGE)
    }
    growth = list(result.growth)
    strengths = list(result.strengths)
    if result.even:
        # An even profile: grow the competences in definition order, no strength to build on.
        growth = [s.id for s in result.competences]
    chosen: list[Recommendation] = []
    used: set[str] = set()
    ranked = {c: _ranked(flow, c, open_programmes) for c in [*growth, *strengths]}
    rounds = 0
    while len(chosen) < grow_limit and rounds < grow_limit:
        added = False
        for competence in growth:
            if len(chosen) >= grow_limit:
                break
            pick = next((r for r in ranked[competence] if r.programme_id not in used), None)
            if pick is not None:
                chosen.append(pick)
                used.add(pick.programme_id)
                added = True
                # Each area to grow gets one programme per round.
        rounds += 1
        if not added:
            break
    grown = 0
    for competence in strengths:
        if grown >= strength_limit:
            break
        pick = next((r for r in ranked[competence] if r.programme_id not in used), None)
        if pick is not None:
            chosen.append(
                Recommendation(
                    programme_id=pick.programme_id,
                    competence=competence,
                    kind="strength",
                    skills=pick.skills,
                    topics=pick.topics,
                    fit=pick.fit,
                )
            )
            used.add(pick.programme_id)
            grown += 1
    return chosen


def _ranked(
    flow: FlowDefinition, competence: str, programmes: Mapping[str, Programme]
) -> list[Recommendation]:
    found = []
    for programme_id, programme in programmes.items():
        points, skills, topics = fit(flow, competence, programme)
        if points:
            found.append(
                Recommendation(
                    programme_id=programme_id,
                    competence=competence,
                    kind="grow",
                    skills=skills,
                    topics=topics,
                    fit=points,
                )
            )
    # Best fit first; among equals, the more focused programme (fewer skills), then by id.
    found.sort(key=lambda r: (-r.fit, len(programmes[r.programme_id].skills), r.programme_id))
    return found


def _ended(programme: Programme, today: dt.date | None) -> bool:
    schedule = programme.schedule
    if today is None or schedule is None:
        return False
    if schedule.end_date and schedule.end_date < today:
        return True
    # A series that counts out (COUNT, UNTIL) before its end_date: no session left to join.
    since = dt.datetime.combine(today, dt.time(), tzinfo=CITY_ZONE)
    return bool(schedule.weekly) and schedule.next_session(since, CITY_ZONE) is None


def suggested_topics(
    flow: FlowDefinition, result: Result, picks: Sequence[Recommendation]
) -> tuple[str, ...]:
    """Return the topics to follow in the weekly digest: those of the areas to grow.

    First the topics that made the programmes fit an area to grow; when they have none, the
    topics the flow's rules map the areas to grow (or else the weakest competence) to.
    """
    found = [topic for pick in picks if pick.kind == "grow" for topic in pick.topics]
    if not found:
        weakest = list(result.growth) or [
            s.id for s in sorted(result.competences, key=lambda s: s.mean)[:1]
        ]
        if result.even:
            weakest = [s.id for s in result.competences]
        found = [str(topic) for competence in weakest for topic in flow.rule(competence).topics]
    return tuple(dict.fromkeys(found))
