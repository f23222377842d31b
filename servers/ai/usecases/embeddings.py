"""Embeddings: the model (the local one by default) must be able to embed;
the request is capped (texts, characters per text), admitted and accounted like
a chat (accounting.py), and never falls back to another model (vectors of
different models are not comparable). The local model computes in this
process, so its requests take fair turns (servers/ai/fairness.py)."""

from __future__ import annotations

from dataclasses import dataclass

from servers.ai.catalog import LOCAL_EMBEDDING_MODEL
from servers.ai.domain import EMBEDDINGS, EmbeddingsInput, EmbeddingsResult, RateLimitInfo, RequestReceived
from servers.ai.fairness import FairQueue
from servers.ai.providers.base import Usage, estimate_tokens
from servers.ai.usecases.accounting import Accountant, Request
from servers.ai.usecases.models import ModelCatalogue
from servers.ai.usecases.ports import ModelRouter
from servers.platform.context import current_principal, request_id
from servers.platform.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True, slots=True)
class EmbeddingCaps:
    max_texts: int
    max_chars_per_text: int

    def check(self, inp: EmbeddingsInput) -> None:
        """INVALID_ARGUMENT naming what is over the caps."""
        field = "text" if inp.single else "texts"
        violations = []
        if len(inp.texts) > self.max_texts:
            violations.append(FieldViolation("texts", f"must hold at most {self.max_texts} texts"))
        for index, text in enumerate(inp.texts):
            if len(text) > self.max_chars_per_text:
                path = field if inp.single else f"texts[{index}]"
                violations.append(
                    FieldViolation(path, f"must be at most {self.max_chars_per_text} characters")
                )
        if violations:
            raise InvalidArgument(
                f"embeddings request too large: {violations[0].field} {violations[0].description}",
                violations[:20],
            )


@dataclass(frozen=True, slots=True)
class AdmittedEmbeddings:
    """An embeddings request past the rate limits, to be answered by `embed`."""

    request: Request
    inp: EmbeddingsInput

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        return self.request.rate_limit


class EmbeddingUseCases:
    def __init__(
        self,
        models: ModelCatalogue,
        accountant: Accountant,
        router: ModelRouter,
        caps: EmbeddingCaps,
        local_turns: FairQueue,
    ):
        self._models = models
        self._accountant = accountant
        self._router = router
        self._caps = caps
        self._local_turns = local_turns

    async def admit(self, inp: EmbeddingsInput) -> AdmittedEmbeddings:
        """Check the model and count the request against the caller's rate limits."""
        principal = current_principal()
        self._caps.check(inp)
        spec = self._models.usable(inp.model or LOCAL_EMBEDDING_MODEL, "embeddings")
        rid = request_id()
        received = RequestReceived(
            request_id=rid,
            user_id=principal.user_id,
            operation=EMBEDDINGS,
            model=spec.id,
            input_chars=sum(map(len, inp.texts)),
            texts=0 if inp.single else len(inp.texts),
        )
        estimated = sum(map(estimate_tokens, inp.texts))
        req = await self._accountant.admit(principal, spec, EMBEDDINGS, rid, estimated, 0, received)
        return AdmittedEmbeddings(req, inp)

    async def embed(self, admitted: AdmittedEmbeddings) -> EmbeddingsResult:
        req, inp = admitted.request, admitted.inp
        await self._accountant.begin(req)
        with self._accountant.accounted(req):
            if req.spec.provider == "local":
                async with self._local_turns.turn(current_principal().user_id, inp.deadline):
                    vectors = await self._router.embed(req.spec, list(inp.texts), inp.deadline)
            else:
                vectors = await self._router.embed(req.spec, list(inp.texts), inp.deadline)
            req.model, req.usage = req.spec, Usage(vectors.tokens, 0)
            dims = len(vectors.vectors[0]) if vectors.vectors else req.spec.dimensions
            return EmbeddingsResult(vectors.vectors, dims, req.spec.id, vectors.tokens)
