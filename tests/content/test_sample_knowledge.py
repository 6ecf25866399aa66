"""The repository's sample knowledge folder loads with no errors (broken content fails CI)."""

from __future__ import annotations

from pathlib import Path

from learncity.content.documents import chunks_for_file
from learncity.content.loader import load_knowledge
from learncity.content.models import Audience, LearningType


def test_the_sample_folder_has_no_errors(sample_knowledge_dir: Path) -> None:
    kb = load_knowledge(sample_knowledge_dir)

    assert [str(error) for error in kb.errors] == []
    assert len(kb.programmes) >= 40
    assert len(kb.events) >= 15
    assert len(kb.guides) >= 12
    assert {p.learning_type for p in kb.programmes.values()} == set(LearningType)
    covered = {a for record in kb.programmes.values() for a in record.audiences}
    assert covered == set(Audience)
    assert any(path.endswith(".csv") for path in kb.files)
    assert any(path.endswith(".pdf") for path in kb.files)
    for loaded in kb.files.values():
        assert chunks_for_file(loaded), loaded.path
