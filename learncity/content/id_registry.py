"""Ids claimed across the files of one load: duplicates and dangling references, with places."""

from __future__ import annotations

from learncity.content.errors import KnowledgeError
from learncity.content.knowledge_base import LoadedFile
from learncity.content.models import Event, Programme


class IdRegistry:
    """Ids claimed so far across files, to report duplicates with both places."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, int | None]] = {}
        self.programmes: set[str] = set()

    def conflicts(self, loaded: LoadedFile) -> list[KnowledgeError]:
        """Return one problem per programme or event whose id an earlier file claimed."""
        problems: list[KnowledgeError] = []
        records: list[Programme | Event] = [*loaded.programmes, *loaded.events]
        for record in records:
            if record.id in self.records:
                other_path, other_line = self.records[record.id]
                where = f"{other_path}:{other_line}" if other_line else other_path
                problems.append(
                    KnowledgeError(
                        loaded.path,
                        loaded.lines.get(record.id),
                        f"id '{record.id}' is already used in {where}: each id must be used "
                        "once in the whole folder",
                    )
                )
        return problems

    def dangling(self, loaded: LoadedFile) -> list[KnowledgeError]:
        """Return one problem per event whose programme_id names no programme claimed so far."""
        left_out = self.dangling_ids(loaded)
        return [
            KnowledgeError(
                loaded.path,
                loaded.lines.get(event.id),
                f"event '{event.id}': programme_id '{event.programme_id}' does not match any "
                "programme in programmes/; this event is left out until it is fixed (the rest "
                "of the file serves)",
            )
            for event in loaded.events
            if event.id in left_out
        ]

    def dangling_ids(self, loaded: LoadedFile) -> set[str]:
        """Return the ids of events whose programme_id names no programme claimed so far."""
        return {
            event.id
            for event in loaded.events
            if event.programme_id and event.programme_id not in self.programmes
        }

    def claim(self, loaded: LoadedFile) -> None:
        """Claim the ids of a file's programmes and events (and remember its programmes)."""
        for programme in loaded.programmes:
            self.records[programme.id] = (loaded.path, loaded.lines.get(programme.id))
            self.programmes.add(programme.id)
        for event in loaded.events:
            self.records[event.id] = (loaded.path, loaded.lines.get(event.id))
