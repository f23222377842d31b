"""AI gateway settings (from the environment, via PlatformSettings) and the
provider adapters they configure. Keys and base URLs come only from here: no
request field can change where a call goes."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from servers.ai.catalog import BUILTIN, Catalog, compatible_models, load_file
from servers.ai.providers.base import Provider
from servers.ai.providers.gemini import Gemini
from servers.ai.providers.local import LocalEmbeddings
from servers.ai.providers.ollama_native import Ollama
from servers.ai.providers.openai_compat import OpenAICompatible
from servers.platform.settings import PlatformSettings


class AiSettings(PlatformSettings):
    # Provider credentials and endpoints. A provider is configured when its key
    # (Ollama and OpenAI-compatible: its base URL) is set.
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    groq_api_key: SecretStr | None = None
    groq_base_url: str = "https://api.groq.com/openai/v1"
    huggingface_api_key: SecretStr | None = None
    huggingface_base_url: str = "https://router.huggingface.co/v1"
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    ollama_base_url: str | None = None  # e.g. http://127.0.0.1:11434
    openai_compatible_base_url: str | None = None  # e.g. http://vllm:8000/v1
    openai_compatible_api_key: SecretStr | None = None
    # Comma-separated model names the OpenAI-compatible endpoint serves.
    openai_compatible_models: str = ""
    # TOML file of [[models]] replacing the built-in catalogue.
    ai_models_file: Path | None = None
    # Model for users who never called SwitchModel; default: the first
    # configured chat model of the catalogue.
    ai_default_model: str = ""

    # Reliability: seconds per upstream call (connect, each read), tries per
    # model, longest Retry-After worth waiting for instead of falling back.
    ai_request_timeout_seconds: float = 60.0
    # Longest a request may take in all (tries and fallbacks); a shorter gRPC
    # deadline from the caller wins. Below Envoy's 60 s unary route timeout.
    ai_deadline_seconds: float = 55.0
    ai_attempts_per_model: int = 3
    ai_max_retry_wait_seconds: float = 5.0
    ai_backoff_seconds: float = 0.25
    # Circuit breaker: consecutive failures that open a provider's circuit, and
    # how long it then stays open (a 429's Retry-After, if longer, wins).
    ai_breaker_failures: int = 3
    ai_breaker_cooldown_seconds: float = 30.0

    # Response cache for repeatable requests (temperature 0), per user.
    ai_cache_ttl_seconds: int = 3600
    # Budgets per user and period ("day", "week" or "month"); 0 = none.
    ai_budget_period: str = "month"
    ai_budget_tokens: int = 0
    ai_budget_usd: float = 0.0
    # Torch threads for local embeddings (0 = torch's default, every core).
    ai_embedding_threads: int = 0
    # Embeddings caps per request (400 above them), every model.
    ai_embedding_max_texts: int = 64
    ai_embedding_max_chars_per_text: int = 8192
    # Local model fairness (servers/ai/fairness.py): requests of one user
    # running or waiting at once, and the longest wait for a turn.
    ai_embedding_concurrency_per_user: int = 2
    ai_embedding_max_wait_seconds: float = 20.0


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value else ""


def catalog(s: AiSettings) -> Catalog:
    specs = load_file(s.ai_models_file) if s.ai_models_file else list(BUILTIN)
    names = [n.strip() for n in s.openai_compatible_models.split(",") if n.strip()]
    return Catalog(specs + compatible_models(names))


def providers(s: AiSettings) -> dict[str, Provider]:
    """The configured providers, by name."""
    timeout = s.ai_request_timeout_seconds
    built: dict[str, Provider] = {"local": LocalEmbeddings(s.ai_embedding_threads)}
    if s.gemini_api_key:
        built["gemini"] = Gemini(s.gemini_base_url, _secret(s.gemini_api_key), timeout)
    for name, key, url in (
        ("groq", s.groq_api_key, s.groq_base_url),
        ("huggingface", s.huggingface_api_key, s.huggingface_base_url),
        ("openai", s.openai_api_key, s.openai_base_url),
    ):
        if key:
            built[name] = OpenAICompatible(name, url, _secret(key), timeout)
    if s.openai_compatible_base_url:
        built["openai_compatible"] = OpenAICompatible(
            "openai_compatible", s.openai_compatible_base_url, _secret(s.openai_compatible_api_key), timeout
        )
    if s.ollama_base_url:
        built["ollama"] = Ollama(s.ollama_base_url, timeout)
    return built


# What to set to configure each provider (named in NOT_CONFIGURED errors).
REQUIRED_SETTING = {
    "gemini": "GEMINI_API_KEY",
    "groq": "GROQ_API_KEY",
    "huggingface": "HUGGINGFACE_API_KEY",
    "openai": "OPENAI_API_KEY",
    "openai_compatible": "OPENAI_COMPATIBLE_BASE_URL",
    "ollama": "OLLAMA_BASE_URL",
}
