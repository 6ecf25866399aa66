"""Report how complete each language's catalogue is: the share of Italian's messages it translates.

Every supported language must be at 100% (tests/i18n asserts the same); the audit's problems
(placeholders, HTML tags, plural forms) are listed too. Writes benchmarks/results/languages.json.

    nice -n 5 python benchmarks/languages.py
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

from learncity.i18n import REFERENCE, default_catalogues
from learncity.i18n_audit import audit, coverage

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "languages.json"


def main() -> int:
    """Print the share of translated messages per language and write the JSON report."""
    catalogues = default_catalogues()
    shares = coverage(catalogues)
    total = len(catalogues.get(REFERENCE).texts)
    problems = audit(catalogues)
    print(f"{'language':<10}{'messages':>10}{'translated':>12}")
    for lang, share in shares.items():
        print(f"{lang:<10}{round(share * total):>10}{share:>12.1%}")
    for problem in problems:
        print(f"problem: {problem}")
    report = {
        "command": "nice -n 5 python benchmarks/languages.py",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "reference": REFERENCE,
        "messages": total,
        "translated_share": {lang: round(share, 4) for lang, share in shares.items()},
        "problems": [str(problem) for problem in problems],
    }
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    complete = all(share == 1.0 for share in shares.values()) and not problems
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
