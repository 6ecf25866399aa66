"""Question sets: reading them, their halves (dev/test), expectations, and the UniQA folder."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from quality.common import UNIQA_LANGS, log


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Return the JSON objects of a file, one a line; blank lines and `#` lines are skipped."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise SystemExit(f"{path}:{number}: not valid JSON ({error.msg})") from error
        if not isinstance(row, dict):
            raise SystemExit(f"{path}:{number}: a line must be a JSON object")
        rows.append(row)
    return rows


def expected_of(row: dict[str, Any]) -> set[str]:
    """Return the acceptable paths and record ids (`expected`, `expected_paths`, `expected_ids`)."""
    found: set[str] = set()
    for key in ("expected", "expected_paths", "expected_ids"):
        value = row.get(key)
        items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        found.update(str(item).strip().removeprefix("./") for item in items if item)
    return found


def is_oos(row: dict[str, Any]) -> bool:
    """Return whether a question is out of scope (smalltalk is not)."""
    return bool(row.get("out_of_scope")) and not row.get("smalltalk")


def in_split(row: dict[str, Any], split: str) -> bool:
    """Return whether a row belongs to the requested half ("both" takes every row)."""
    return split == "both" or row.get("split") == split


def halves(split: str) -> list[str]:
    """Return the halves to report for `--split`."""
    return ["dev", "test"] if split == "both" else [split]


def stable_half(key: str, salt: str) -> str:
    """Return "dev" or "test" from a hash of key (deterministic across runs and machines)."""
    return "dev" if hashlib.sha256(f"{salt}:{key}".encode()).digest()[0] % 2 == 0 else "test"


def uniqa_half(code: str) -> str:
    """Return the half of a UniQA programme code: the split the engine was tuned on (dev)."""
    return "dev" if int(hashlib.sha256(code.encode()).hexdigest(), 16) % 2 == 0 else "test"


# --- the knowledge folder: which file holds which record -----------------------------------------
def record_files(knowledge: Path) -> dict[str, str]:
    """Return {record id: relative path} for programmes, events and contacts (no product code)."""
    import yaml

    found: dict[str, str] = {}
    for path in sorted(knowledge.rglob("*")):
        if not path.is_file() or path.name.startswith((".", "~$", "#")):
            continue
        relative = path.relative_to(knowledge).as_posix()
        top = relative.split("/", 1)[0]
        try:
            if path.suffix.lower() in (".yaml", ".yml") and (
                top in ("programmes", "events") or relative == "contacts.yaml"
            ):
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                records = data.get(top if top != "contacts.yaml" else "contacts", [])
                if isinstance(data, dict) and not records:
                    records = next((v for v in data.values() if isinstance(v, list)), [])
                for record in records or []:
                    if isinstance(record, dict) and record.get("id"):
                        found[str(record["id"])] = relative
            elif path.suffix.lower() == ".csv" and top == "programmes":
                with path.open(encoding="utf-8", newline="") as handle:
                    for record in csv.DictReader(handle):
                        if record.get("id"):
                            found[record["id"]] = relative
        except (OSError, ValueError, yaml.YAMLError) as error:
            log(f"warning: cannot read records of {relative}: {error}")
    return found


def check_expectations(sets: dict[str, list[dict[str, Any]]], knowledge: Path) -> list[str]:
    """Return the expectations that name no file or record of the knowledge folder."""
    records = record_files(knowledge)
    unknown: list[str] = []
    for name, rows in sets.items():
        for row in rows:
            turns = row.get("turns") or [row]
            for turn in turns:
                for item in expected_of(turn):
                    if item not in records and not (knowledge / item).is_file():
                        unknown.append(f"{name}:{row.get('id')}: {item}")
    return unknown



def uniqa_questions(dataset: Path, lang: str, split: str, limit: int) -> list[dict[str, Any]]:
    """Return up to `limit` questions of one language and half, in a fixed pseudo-random order."""
    rows = read_jsonl(dataset / "qa" / f"train_{lang}.jsonl")
    chosen = []
    for row in rows:
        codes = [str(code) for code in row.get("gold_codes") or []]
        if codes and uniqa_half(codes[0]) == split:
            chosen.append({**row, "gold_codes": codes, "lang": lang, "split": split})
    chosen.sort(key=lambda row: hashlib.sha256(row["question"].encode()).hexdigest())
    return chosen[:limit] if limit > 0 else chosen


def build_uniqa_folder(knowledge: Path, dataset: Path, folder: Path) -> int:
    """Copy the knowledge folder and add every UniQA document as a .txt guide; return the count."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(knowledge, folder)
    count = 0
    for lang in UNIQA_LANGS:
        for source in sorted((dataset / "corpus" / lang).glob("*/*.txt")):
            target = folder / "guides" / "uniqa" / lang / source.parent.name / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            count += 1
    return count
