"""What the AI gateway does, independent of gRPC, one concept per module:

    models.py       which model a request uses, ListModels' live status, SwitchModel
    chat.py         Chat and StreamChat: admit, cache or router, account
    embeddings.py   CreateEmbeddings
    usage.py        GetUsage
    accounting.py   admission (rate limits, budget) and exactly-once accounting
    ports.py        the Protocols the use cases own (their adapters implement them)

They see no protobuf, Redis, asyncpg or HTTP headers: what the transport must
add to a response (the X-RateLimit-* window) comes back as data.
"""

from __future__ import annotations

from dataclasses import dataclass

from servers.ai.usecases.chat import ChatUseCases
from servers.ai.usecases.embeddings import EmbeddingUseCases
from servers.ai.usecases.models import ModelCatalogue
from servers.ai.usecases.usage import UsageUseCases


@dataclass(frozen=True)
class AiUseCases:
    """The gateway's use cases, as the servicer calls them."""

    chat: ChatUseCases
    embeddings: EmbeddingUseCases
    models: ModelCatalogue
    usage: UsageUseCases
