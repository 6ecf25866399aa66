"""`learncity ask`: one question as text or JSON, or one per line from stdin as JSON lines."""

from __future__ import annotations

import json
from typing import IO

from terminal.render import answer_json, render_answer
from terminal.session import Session


def ask(
    session: Session,
    question: str,
    *,
    lang: str | None,
    as_json: bool,
    stdin: IO[str],
    out: IO[str],
) -> int:
    """Answer `question` (`-`: one per line from `stdin`, as JSON lines); return the exit code."""
    if question == "-":
        for line in stdin:
            text = line.strip()
            if not text:
                continue
            answer = session.ask(text, lang=lang)
            out.write(json.dumps(answer_json(answer), ensure_ascii=False) + "\n")
            out.flush()
        return 0
    answer = session.ask(question, lang=lang)
    if as_json:
        print(json.dumps(answer_json(answer), ensure_ascii=False, indent=2), file=out)
    else:
        print(render_answer(answer), file=out)
    return 0
