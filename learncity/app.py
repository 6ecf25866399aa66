"""The composition root: build every service once from `Settings`. Nothing is built at import.

The CLI and the Telegram application both call `build_services(settings)` and hand the services
to their thin adapters. Later areas (flows, reminders) add their services to `Services` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel
    from sqlalchemy import Engine

    from flows.service import FlowService
    from learncity.settings import Settings
    from reminders.service import ReminderService
    from retrieval.context_store import ContextStore
    from retrieval.engine import AnswerEngine
    from retrieval.indexer import Indexer
    from retrieval.knowledge_service import KnowledgeService
    from retrieval.search import HybridSearcher
    from retrieval.shared_index import VersionPoller
    from retrieval.store import ChromaVectorIndex


@dataclass
class Services:
    """Every long-lived service of the assistant, built once per process."""

    settings: Settings
    embeddings: Embeddings
    index: ChromaVectorIndex
    searcher: HybridSearcher
    indexer: Indexer
    knowledge: KnowledgeService
    assistant: AnswerEngine
    engine: Engine
    contexts: ContextStore
    reminders: ReminderService | None = None
    skills: FlowService | None = None
    follower: VersionPoller | None = None  # replicas: reload the index another one synced

    def warm_up(self) -> None:
        """Load the model, knowledge base and index now, so the first resident does not wait."""
        warm = getattr(self.embeddings, "warm_up", None)
        if callable(warm):
            warm()
        self.knowledge.current  # noqa: B018 - loads and syncs on first use
        self.assistant.warm_up()
        if self.follower is not None:
            self.follower.start()

    def close(self) -> None:
        """Stop following the index version; release the database connections."""
        if self.follower is not None:
            self.follower.stop()
        self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    embeddings: Embeddings | None = None,
    chat_model: BaseChatModel | None = None,
) -> Services:
    """Build every service from the settings.

    `embeddings` lets tests share one loaded model; `chat_model` replaces the configured LLM
    (a fake one in tests: the paid model is the edge we cannot reach).
    """
    import retrieval
    from flows.service import FlowService
    from flows.store import FlowStore
    from learncity.db import make_engine
    from learncity.safeguarding import SafeguardingClassifier
    from reminders.service import ReminderService
    from retrieval.context_store import ContextStore
    from retrieval.embedding import make_embeddings
    from retrieval.engine import AnswerEngine
    from retrieval.examples import ExampleBank
    from retrieval.gate import RelevanceGate
    from retrieval.indexer import Indexer
    from retrieval.knowledge_wiring import build_knowledge
    from retrieval.language import LanguageIdentifier
    from retrieval.llm import LLMPhraser, make_chat_model
    from retrieval.search import HybridSearcher
    from retrieval.smalltalk import SmalltalkDetector
    from retrieval.store import ChromaVectorIndex

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    model = embeddings if embeddings is not None else make_embeddings(settings)
    if settings.chroma_server_url:
        index = ChromaVectorIndex(embeddings=model, url=settings.chroma_server_url)
    else:
        index = ChromaVectorIndex(embeddings=model, path=settings.chroma_dir)
    searcher = HybridSearcher(index=index, embeddings=model)
    # The knowledge service refreshes the searcher after each sync, once.
    indexer = Indexer(index=index, embeddings=model)
    engine = make_engine(settings.effective_database_url)
    parts = build_knowledge(root=settings.knowledge_dir, index=index, indexer=indexer,
                            searcher=searcher, embeddings=model, engine=engine)
    knowledge = parts.knowledge
    chat_model = chat_model if chat_model is not None else make_chat_model(settings)
    data = Path(retrieval.__file__).parent / "data"
    safeguarding = SafeguardingClassifier(embeddings=model)
    threshold = settings.abstain_threshold
    assistant = AnswerEngine(
        knowledge=knowledge,
        searcher=parts.searcher,
        embeddings=model,
        zone=settings.zone,
        gate=RelevanceGate(
            off_topics=ExampleBank.from_file(data / "out_of_scope.yaml", embeddings=model),
            on_topics=ExampleBank.from_file(data / "in_scope.yaml", embeddings=model),
            threshold=threshold,
        ),
        smalltalk=SmalltalkDetector(
            bank=ExampleBank.from_file(data / "smalltalk.yaml", embeddings=model)
        ),
        languages=LanguageIdentifier(),
        safeguard=lambda text, vector: safeguarding.classify(text, vector=vector),
        llm=LLMPhraser(model=chat_model) if chat_model is not None else None,
        default_lang=settings.default_language,
    )
    contexts = ContextStore(engine=engine)
    contexts.create_schema()
    reminders = ReminderService.from_settings(
        settings, engine=engine, knowledge=lambda: knowledge.current
    )
    flow_store = FlowStore(engine=engine)
    flow_store.create_schema()
    skills = FlowService(
        assessments_dir=settings.knowledge_dir / "assessments",
        store=flow_store,
        programmes=lambda: knowledge.current.programmes,
        zone=settings.zone,
    )
    return Services(
        settings=settings,
        embeddings=model,
        index=index,
        searcher=searcher,
        indexer=indexer,
        knowledge=knowledge,
        assistant=assistant,
        engine=engine,
        contexts=contexts,
        reminders=reminders,
        skills=skills,
        follower=parts.poller,
    )
