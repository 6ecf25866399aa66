"""The closed vocabularies of records: learning kinds, audiences, topics, skills, days, ids.

Formal / non-formal / informal learning (`LearningType`) and the other allowed values staff pick
from; `knowledge/README.md` lists the same values in plain words.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import StringConstraints

RecordId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)]


class LearningType(StrEnum):
    """Formal (schools, CPIA), non-formal (courses, workshops), informal (events, libraries)."""

    FORMAL = "formal"
    NON_FORMAL = "non-formal"
    INFORMAL = "informal"


class Audience(StrEnum):
    """Who a programme or event is for."""

    EVERYONE = "everyone"
    CHILDREN = "children"
    TEENS = "teens"
    YOUNG_ADULTS = "young-adults"
    FAMILIES = "families"
    PARENTS = "parents"
    ADULTS = "adults"
    SENIORS = "seniors"
    MIGRANTS = "migrants"
    JOB_SEEKERS = "job-seekers"
    PEOPLE_WITH_DISABILITIES = "people-with-disabilities"
    STUDENTS = "students"
    TEACHERS = "teachers"
    WOMEN = "women"


class Topic(StrEnum):
    """What a programme or event is about (used for browsing and filters)."""

    ITALIAN_LANGUAGE = "italian-language"
    FOREIGN_LANGUAGES = "foreign-languages"
    DIGITAL_SKILLS = "digital-skills"
    LITERACY = "literacy"
    SCHOOL_SUPPORT = "school-support"
    ADULT_EDUCATION = "adult-education"
    UNIVERSITY = "university"
    WORK_SKILLS = "work-skills"
    ENTREPRENEURSHIP = "entrepreneurship"
    ARTS_CULTURE = "arts-culture"
    MUSIC = "music"
    READING = "reading"
    SCIENCE_TECHNOLOGY = "science-technology"
    MAKING = "making"
    ENVIRONMENT = "environment"
    GARDENING = "gardening"
    HEALTH_WELLBEING = "health-wellbeing"
    SPORT = "sport"
    CITIZENSHIP = "citizenship"
    VOLUNTEERING = "volunteering"
    PARENTING = "parenting"
    EARLY_CHILDHOOD = "early-childhood"
    HISTORY_HERITAGE = "history-heritage"
    COOKING = "cooking"
    FINANCE = "finance"
    SOFT_SKILLS = "soft-skills"


class Skill(StrEnum):
    """Competence codes a programme develops: LifeComp areas and DigComp areas."""

    SELF_REGULATION = "self-regulation"
    FLEXIBILITY = "flexibility"
    WELLBEING = "wellbeing"
    EMPATHY = "empathy"
    COMMUNICATION = "communication"
    COLLABORATION = "collaboration"
    GROWTH_MINDSET = "growth-mindset"
    CRITICAL_THINKING = "critical-thinking"
    MANAGING_LEARNING = "managing-learning"
    DIGITAL_INFORMATION = "digital-information"
    DIGITAL_COMMUNICATION = "digital-communication"
    DIGITAL_CONTENT = "digital-content"
    DIGITAL_SAFETY = "digital-safety"
    DIGITAL_PROBLEM_SOLVING = "digital-problem-solving"


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Day names staff may write instead of the codes, in English and Italian.
DAY_NAMES: dict[str, Weekday] = {
    name: code
    for code, names in zip(
        WEEKDAYS,
        (
            ("monday", "lun", "lunedì", "lunedi"),
            ("tuesday", "mar", "martedì", "martedi"),
            ("wednesday", "mer", "mercoledì", "mercoledi"),
            ("thursday", "gio", "giovedì", "giovedi"),
            ("friday", "ven", "venerdì", "venerdi"),
            ("saturday", "sab", "sabato"),
            ("sunday", "dom", "domenica"),
        ),
        strict=True,
    )
    for name in names
}


class EventStatus(StrEnum):
    """Whether an event still takes place."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class ContactKind(StrEnum):
    """What a contact is for; `general` is the fallback when the folder has no answer."""

    GENERAL = "general"
    SCHOOL = "school"
    HELPLINE = "helpline"
    EMERGENCY = "emergency"
    ADULT_EDUCATION = "adult-education"
    MIGRANTS = "migrants"
    DISABILITY = "disability"
    YOUTH = "youth"
    LIBRARY = "library"
    DIGITAL = "digital"
