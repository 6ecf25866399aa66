"""Guided self-assessments: definitions as data, a pure engine, scoring, charts, recommendations.

Nothing here imports `telegram`: the bot and the terminal chat call `flows.service.FlowService`.
"""
