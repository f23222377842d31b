"""The model catalogue: which models exist, who serves them, what they can do,
what they cost and how fast a user may call them.

The built-in catalogue below covers every supported provider; AI_MODELS_FILE
(TOML, `[[models]]` tables with the ModelSpec fields) replaces it. Whether a
model is usable depends on its provider being configured (see config.py).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from servers.platform.errors import NotFound

PROVIDERS = ("gemini", "groq", "ollama", "huggingface", "openai", "openai_compatible", "local")
# ModelSpec fields the API reports as int32 (aether.ai.v1.Model): a bigger value
# could never be shown, so a catalogue holding one is refused at start.
INT32_FIELDS = ("context_window", "max_tokens", "dimensions", "requests_per_minute", "tokens_per_minute")
INT32_MAX = 2**31 - 1
CAPABILITIES = ("chat", "streaming", "embeddings", "code", "vision")

CHAT = ("chat", "streaming")
CODE_CHAT = ("chat", "streaming", "code")


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str
    provider: str
    # The provider's own name for the model; defaults to id.
    upstream: str = ""
    aliases: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = CHAT
    context_window: int = 8192
    max_tokens: int = 4096  # largest output one request may ask for
    dimensions: int = 0  # embedding models only
    input_cost_per_1k: float = 0.0  # USD
    output_cost_per_1k: float = 0.0
    requests_per_minute: int = 60  # per user; 0 = unlimited
    tokens_per_minute: int = 100_000
    # Models tried in order when this one's provider fails.
    fallbacks: tuple[str, ...] = ()
    description: str = ""

    @property
    def upstream_name(self) -> str:
        return self.upstream or self.id

    @property
    def local(self) -> bool:
        return self.provider in ("local", "ollama")

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_cost_per_1k + output_tokens * self.output_cost_per_1k) / 1000


LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2"

BUILTIN: tuple[ModelSpec, ...] = (
    ModelSpec(
        "gemini-2.0-flash",
        "Gemini 2.0 Flash",
        "gemini",
        aliases=("gemini",),
        capabilities=(*CODE_CHAT, "vision"),
        context_window=1_048_576,
        max_tokens=8192,
        input_cost_per_1k=0.0001,
        output_cost_per_1k=0.0004,
        requests_per_minute=60,
        tokens_per_minute=1_000_000,
        fallbacks=("llama-3.3-70b-versatile", "gpt-4o-mini"),
        description="Fast multimodal model with a very long context.",
    ),
    ModelSpec(
        "text-embedding-004",
        "Gemini Text Embedding 004",
        "gemini",
        capabilities=("embeddings",),
        context_window=2048,
        max_tokens=0,
        dimensions=768,
        input_cost_per_1k=0.00001,
        description="Gemini's text embeddings (768 dimensions).",
    ),
    ModelSpec(
        "llama-3.3-70b-versatile",
        "Llama 3.3 70B (Groq)",
        "groq",
        aliases=("groq",),
        capabilities=CODE_CHAT,
        context_window=131_072,
        max_tokens=32_768,
        input_cost_per_1k=0.00059,
        output_cost_per_1k=0.00079,
        requests_per_minute=30,
        tokens_per_minute=60_000,
        fallbacks=("gemini-2.0-flash", "gpt-4o-mini"),
        description="Large open model at very low latency on Groq LPUs.",
    ),
    ModelSpec(
        "llama-3.1-8b-instant",
        "Llama 3.1 8B Instant (Groq)",
        "groq",
        context_window=131_072,
        max_tokens=8192,
        input_cost_per_1k=0.00005,
        output_cost_per_1k=0.00008,
        requests_per_minute=30,
        tokens_per_minute=60_000,
        description="Small, very fast model for simple prompts.",
    ),
    ModelSpec(
        "llama3.1:8b",
        "Llama 3.1 8B (Ollama)",
        "ollama",
        aliases=("ollama", "llama3:8b"),
        capabilities=CODE_CHAT,
        context_window=131_072,
        max_tokens=8192,
        requests_per_minute=0,
        tokens_per_minute=0,
        description="Runs on your own machine through Ollama; nothing leaves it.",
    ),
    ModelSpec(
        "nomic-embed-text",
        "Nomic Embed Text (Ollama)",
        "ollama",
        capabilities=("embeddings",),
        context_window=8192,
        max_tokens=0,
        dimensions=768,
        requests_per_minute=0,
        tokens_per_minute=0,
        description="Local embeddings through Ollama (768 dimensions).",
    ),
    ModelSpec(
        "meta-llama/Llama-3.1-8B-Instruct",
        "Llama 3.1 8B Instruct (Hugging Face)",
        "huggingface",
        aliases=("huggingface",),
        context_window=131_072,
        max_tokens=8192,
        input_cost_per_1k=0.0001,
        output_cost_per_1k=0.0001,
        requests_per_minute=30,
        tokens_per_minute=60_000,
        description="Open model through Hugging Face's inference router.",
    ),
    ModelSpec(
        "gpt-4o-mini",
        "GPT-4o mini",
        "openai",
        aliases=("openai",),
        capabilities=(*CODE_CHAT, "vision"),
        context_window=128_000,
        max_tokens=16_384,
        input_cost_per_1k=0.00015,
        output_cost_per_1k=0.0006,
        requests_per_minute=60,
        tokens_per_minute=200_000,
        description="OpenAI's small, affordable general model.",
    ),
    ModelSpec(
        "text-embedding-3-small",
        "OpenAI Text Embedding 3 Small",
        "openai",
        capabilities=("embeddings",),
        context_window=8191,
        max_tokens=0,
        dimensions=1536,
        input_cost_per_1k=0.00002,
        description="OpenAI's embeddings (1536 dimensions).",
    ),
    ModelSpec(
        LOCAL_EMBEDDING_MODEL,
        "all-MiniLM-L6-v2 (local)",
        "local",
        aliases=("minilm", "local"),
        capabilities=("embeddings",),
        context_window=256,
        max_tokens=0,
        dimensions=384,
        # It computes on this server's CPU: per-user limits by default.
        requests_per_minute=120,
        tokens_per_minute=200_000,
        description="Sentence embeddings computed in-process, offline (384 dimensions).",
    ),
)


def compatible_models(names: Iterable[str]) -> list[ModelSpec]:
    """Chat models of a configured OpenAI-compatible endpoint (vLLM, LM Studio...)."""
    return [
        ModelSpec(
            name,
            f"{name} (OpenAI-compatible)",
            "openai_compatible",
            requests_per_minute=0,
            tokens_per_minute=0,
        )
        for name in names
    ]


def load_file(path: Path) -> list[ModelSpec]:
    """Read `[[models]]` tables (ModelSpec fields; lists for tuples) from a TOML file."""
    known = {f.name for f in fields(ModelSpec)}
    specs = []
    for entry in tomllib.loads(path.read_text()).get("models", []):
        unknown = set(entry) - known
        if unknown:
            raise SystemExit(f"{path}: unknown model fields {sorted(unknown)}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
        specs.append(ModelSpec(**values))
    return specs


class Catalog:
    """Models by id and alias, in catalogue order (provider, then id)."""

    def __init__(self, specs: Sequence[ModelSpec]):
        for spec in specs:
            if spec.provider not in PROVIDERS:
                raise SystemExit(f"model {spec.id!r}: unknown provider {spec.provider!r}")
            for name in INT32_FIELDS:
                value = getattr(spec, name)
                if not isinstance(value, int) or not 0 <= value <= INT32_MAX:
                    raise SystemExit(
                        f"model {spec.id!r}: {name} must be a whole number from 0 to {INT32_MAX}"
                    )
        self.models = sorted(specs, key=lambda s: (s.provider, s.id))
        self._by_name: dict[str, ModelSpec] = {}
        for spec in self.models:
            for name in (spec.id, *spec.aliases):
                self._by_name.setdefault(name.lower(), spec)
        for spec in self.models:
            missing = [f for f in spec.fallbacks if f.lower() not in self._by_name]
            if missing:
                raise SystemExit(f"model {spec.id!r}: unknown fallbacks {missing}")

    def get(self, name: str) -> ModelSpec:
        spec = self._by_name.get(name.lower())
        if spec is None:
            valid = ", ".join(s.id for s in self.models)
            raise NotFound(f"unknown model {name!r}; valid models: {valid}")
        return spec

    def find(self, name: str) -> ModelSpec | None:
        return self._by_name.get(name.lower())
