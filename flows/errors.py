"""The exceptions of the flows package; each message names the flow, user or item it is about.

    FlowError
    ├── UnknownFlow      no flow definition with that id
    ├── NoProgress       the user has no questionnaire in progress for that flow
    ├── StaleStep        a button from an earlier step or from a finished questionnaire
    └── InvalidAnswer    a value that is not on the flow's answer scale
"""

from __future__ import annotations


class FlowError(Exception):
    """Base of every error raised by the flows package."""


class UnknownFlow(FlowError):
    """No flow definition with the given id."""

    def __init__(self, flow_id: str) -> None:
        super().__init__(f"no flow with id {flow_id!r}")
        self.flow_id = flow_id


class NoProgress(FlowError):
    """The user has no questionnaire in progress for the flow."""

    def __init__(self, user_id: int, flow_id: str) -> None:
        super().__init__(f"user {user_id} has no {flow_id!r} questionnaire in progress")
        self.user_id = user_id
        self.flow_id = flow_id


class StaleStep(FlowError):
    """An answer to a step that is no longer the current one."""

    def __init__(self, flow_id: str, expected: int, got: int) -> None:
        super().__init__(f"flow {flow_id!r} is at step {expected}, not at step {got}")
        self.flow_id = flow_id
        self.expected = expected
        self.got = got


class InvalidAnswer(FlowError):
    """A value that is not on the answer scale."""

    def __init__(self, flow_id: str, value: int) -> None:
        super().__init__(f"{value!r} is not on the answer scale of flow {flow_id!r}")
        self.flow_id = flow_id
        self.value = value
