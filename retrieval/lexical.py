"""BM25 over chunk texts (bm25s), with Italian and English stemming (PyStemmer).

Text is folded before stemming (lower case, accents removed), so "CORSO", "Corsò" and "corso"
meet. A chunk is stemmed in its own language (`lang` metadata); a question is stemmed in the
language its stop words suggest, or in both when that is unclear. The index is rebuilt from all
chunks after each sync; tokens of chunks seen before are cached, so a rebuild is quick.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from learncity.text import fold
from retrieval.types import Chunk, MetadataValue

LANGUAGES = ("it", "en")
_STEMMER_NAMES = {"it": "italian", "en": "english"}
_WORD = re.compile(r"\w+")
K1 = 1.2
WELL_KNOWN_FILES = 3
B = 0.75


@dataclass(frozen=True, slots=True)
class LexicalHit:
    """A chunk matched by BM25: raw score and the score relative to the query's ceiling."""

    chunk: Chunk
    score: float
    normalised: float  # score / (sum of the query terms' idf * (k1 + 1)), in [0, 1]


# Light verbs the stop lists miss: "fare" in "chi mi aiuta a fare il curriculum?" says nothing of
# the subject, but a page that says "fare volontariato" ten times would win on it.
LIGHT_VERBS_IT = (
    "fare", "fa", "fai", "fanno", "facciamo", "fatto", "posso", "puoi", "puo", "possiamo",
    "possono", "vorrei", "voglio", "vuole", "devo", "deve", "dobbiamo",
)


@lru_cache(maxsize=1)
def _stopwords() -> dict[str, frozenset[str]]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_ITALIAN

    return {
        "it": frozenset(fold(word) for word in (*STOPWORDS_ITALIAN, *LIGHT_VERBS_IT)),
        "en": frozenset(fold(word) for word in STOPWORDS_EN_PLUS),
    }


@lru_cache(maxsize=4)
def _stemmer(lang: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(_STEMMER_NAMES[lang])


def words(text: str) -> list[str]:
    """Return the folded words of text (no stop words removed, no stemming)."""
    return _WORD.findall(fold(text))


def guess_language(text: str) -> str | None:
    """Return "it" or "en" when the stop words of text make it clear, else None."""
    stop = _stopwords()
    tokens = words(text)
    italian = sum(token in stop["it"] and token not in stop["en"] for token in tokens)
    english = sum(token in stop["en"] and token not in stop["it"] for token in tokens)
    if italian > english:
        return "it"
    if english > italian:
        return "en"
    return None


def tokenize(text: str, langs: Sequence[str] = LANGUAGES) -> list[str]:
    """Return the stemmed content words of text, stemmed in each of `langs`."""
    stop = _stopwords()
    content = [
        token
        for token in words(text)
        if not any(token in stop[lang] for lang in langs) and (len(token) > 1 or token.isdigit())
    ]
    if len(langs) == 1:
        return list(_stemmer(langs[0]).stemWords(content))
    stems: list[str] = []
    for lang in langs:
        stems.extend(_stemmer(lang).stemWords(content))
    return stems


def _chunk_langs(chunk: Chunk) -> tuple[str, ...]:
    lang = chunk.metadata.get("lang")
    return (lang,) if isinstance(lang, str) and lang in LANGUAGES else LANGUAGES


class BM25Index:
    """BM25 over chunk texts, with scores normalised to an absolute [0, 1] scale."""

    def __init__(self, *, k1: float = K1, b: float = B) -> None:
        if k1 <= 0:
            raise ValueError(f"k1 ({k1}) must be positive")
        if not 0 <= b <= 1:
            raise ValueError(f"b ({b}) must be between 0 and 1")
        self._k1 = k1
        self._b = b
        self._chunks: list[Chunk] = []
        self._retriever: Any = None
        self._idf: dict[str, float] = {}
        self._spread: dict[str, int] = {}  # how many files use each term
        self._cache: dict[str, list[str]] = {}
        self._masks: dict[tuple[tuple[str, MetadataValue], ...], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def chunks(self) -> list[Chunk]:
        """Return the indexed chunks, in index order."""
        return self._chunks

    def build(self, chunks: Iterable[Chunk]) -> None:
        """Index these chunks, replacing what was there."""
        import bm25s

        chunk_list = list(chunks)
        cache = {}
        corpus: list[list[str]] = []
        for chunk in chunk_list:
            tokens = self._cache.get(chunk.id)
            if tokens is None:
                tokens = tokenize(chunk.text, _chunk_langs(chunk))
            cache[chunk.id] = tokens
            corpus.append(tokens)
        self._cache = cache
        if not chunk_list:
            self._chunks, self._retriever, self._idf, self._masks = [], None, {}, {}
            return
        retriever = bm25s.BM25(k1=self._k1, b=self._b, method="lucene")
        # An empty token list would be dropped by bm25s and shift the rows: keep a placeholder.
        retriever.index([tokens or ["\x00"] for tokens in corpus], show_progress=False)
        document_frequency: Counter[str] = Counter()
        files: dict[str, set[str]] = {}
        for chunk, tokens in zip(chunk_list, corpus, strict=True):
            document_frequency.update(set(tokens))
            path = str(chunk.metadata.get("path", ""))
            for term in set(tokens):
                files.setdefault(term, set()).add(path)
        self._spread = {term: len(paths) for term, paths in files.items()}
        total = len(corpus)
        idf = {
            term: math.log(1 + (total - df + 0.5) / (df + 0.5))
            for term, df in document_frequency.items()
        }
        # One assignment, so a search running meanwhile sees the old index or the new one.
        self._chunks, self._retriever, self._idf, self._masks = chunk_list, retriever, idf, {}

    def query_terms(self, query: str) -> list[str]:
        """Return the distinct stemmed terms of a question that the index knows."""
        lang = guess_language(query)
        terms = tokenize(query, (lang,) if lang else LANGUAGES)
        return [term for term in dict.fromkeys(terms) if term in self._idf]

    def coverage(self, query: str, *, well_known: int = WELL_KNOWN_FILES) -> float:
        """Return how much of a question's wording the folder uses, in [0, 1].

        Each stemmed content word counts by how many files use it (fully from `well_known`
        files): a question about something the folder never mentions ("the weather tomorrow")
        has words it does not use, or uses once in passing. Meaningful only for the languages
        the index stems (`LANGUAGES`); 1.0 when the question has no content word.
        """
        lang = guess_language(query)
        terms = list(dict.fromkeys(tokenize(query, (lang,) if lang else LANGUAGES)))
        if not terms:
            return 1.0
        spread = self._spread
        return sum(min(1.0, spread.get(term, 0) / well_known) for term in terms) / len(terms)

    def scores(self, query: str) -> tuple[np.ndarray, float]:
        """Return BM25 scores of every chunk (index order) and the query's score ceiling."""
        terms = self.query_terms(query)
        if self._retriever is None or not terms:
            return np.zeros(len(self._chunks), dtype=np.float32), 0.0
        scores = np.asarray(self._retriever.get_scores(terms), dtype=np.float32)
        ceiling = sum(self._idf[term] for term in terms) * (self._k1 + 1)
        return scores, ceiling

    def search(
        self, query: str, k: int, where: Mapping[str, MetadataValue] | None = None
    ) -> list[LexicalHit]:
        """Return the k best chunks for the query, optionally only those matching `where`."""
        if k < 1:
            raise ValueError(f"k ({k}) must be at least 1")
        scores, ceiling = self.scores(query)
        if ceiling <= 0:
            return []
        if where:
            scores = np.where(self._mask(where), scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            LexicalHit(self._chunks[i], float(scores[i]), min(1.0, float(scores[i]) / ceiling))
            for i in top
            if scores[i] > 0
        ]

    def _mask(self, where: Mapping[str, MetadataValue]) -> np.ndarray:
        """Return which chunks match `where` (cached until the next build)."""
        key = tuple(sorted(where.items()))
        mask = self._masks.get(key)
        if mask is None:
            mask = np.fromiter(
                (
                    all(chunk.metadata.get(name) == value for name, value in where.items())
                    for chunk in self._chunks
                ),
                dtype=bool,
                count=len(self._chunks),
            )
            if len(self._masks) > 64:  # filters come from a small vocabulary; bound it anyway
                self._masks.clear()
            self._masks[key] = mask
        return mask
