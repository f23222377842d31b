"""The model catalogue as callers see it: which model a request uses (its
own, the caller's default, the gateway's), whether that model can serve it,
the live status of every model (ListModels) and the caller's default
(SwitchModel)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from servers.ai.catalog import Catalog, ModelSpec
from servers.ai.domain import (
    AVAILABLE,
    RATE_LIMITED,
    UNAVAILABLE,
    ModelListing,
    ModelSwitch,
    ModelView,
    check_capability,
)
from servers.ai.usecases.ports import ModelRouter, PreferenceReads, PreferenceWrites, Reachability
from servers.platform.context import current_principal
from servers.platform.errors import ErrorReason, FailedPrecondition
from servers.platform.paging import PageRequest
from servers.platform.uow import UnitOfWork


class ModelCatalogue:
    def __init__(
        self,
        catalog: Catalog,
        configured: Collection[str],
        router: ModelRouter,
        probe: Reachability,
        reads: PreferenceReads,
        uow: UnitOfWork[PreferenceWrites],
        default_model: str,
        required_settings: Mapping[str, str],
    ):
        """`configured`: the providers that have settings; `required_settings`:
        what to set to configure each provider (named in NOT_CONFIGURED errors)."""
        self.catalog = catalog
        self._configured = frozenset(configured)
        self._router = router
        self._probe = probe
        self._reads = reads
        self._uow = uow
        self._required = required_settings
        chat_models = [s for s in catalog.models if s.can("chat") and s.provider in self._configured]
        self.system_default = (
            catalog.get(default_model).id if default_model else (chat_models[0].id if chat_models else "")
        )

    def usable(self, name: str, capability: str, field_name: str = "model") -> ModelSpec:
        """The model named (id or alias), configured and able to do `capability`."""
        spec = self.catalog.get(name)
        check_capability(spec, capability, field_name)
        if spec.provider not in self._configured:
            setting = self._required.get(spec.provider, "its provider settings")
            raise FailedPrecondition(
                f"model {spec.id!r} is not available: its provider {spec.provider} is not configured "
                f"(set {setting})",
                reason=ErrorReason.NOT_CONFIGURED,
            )
        return spec

    async def current_model(self, user_id: str) -> str:
        """The user's default model if it still exists, else the gateway's."""
        chosen = await self._reads.default_model(user_id)
        if chosen and self.catalog.find(chosen):
            return chosen
        return self.system_default

    async def for_chat(self, requested: str, user_id: str, capability: str) -> ModelSpec:
        """The model a chat uses: the requested one, else the user's current one."""
        name = requested or await self.current_model(user_id)
        if not name:
            settings = ", ".join(self._required.values())
            raise FailedPrecondition(
                f"no AI provider is configured; set one of {settings}", reason=ErrorReason.NOT_CONFIGURED
            )
        return self.usable(name, capability)

    async def list_models(self, provider: str, capability: str, page: PageRequest) -> ModelListing:
        """A page of the models (optionally of one provider or capability), each
        with its live status, and the caller's current model."""
        specs = [
            s
            for s in self.catalog.models
            if (not provider or s.provider == provider) and (not capability or s.can(capability))
        ]
        reachable = await self._probe.reachable({s.provider for s in specs} & self._configured)
        views = [ModelView(s, self._status(s, reachable)) for s in specs]
        return ModelListing(page.slice(views), await self.current_model(current_principal().user_id))

    async def switch_model(self, model: str) -> ModelSwitch:
        """Set the caller's default chat model."""
        user_id = current_principal().user_id
        spec = self.usable(model, "chat")
        async with self._uow() as tx:
            previous = await tx.repo.set_default_model(user_id, spec.id)
        return ModelSwitch(spec.id, previous or self.system_default)

    def _status(self, spec: ModelSpec, reachable: Mapping[str, bool]) -> str:
        if spec.provider not in self._configured:
            return UNAVAILABLE
        breaker = self._router.breaker(spec.provider)
        if breaker is not None and breaker.remaining() > 0:
            return RATE_LIMITED if breaker.rate_limited else UNAVAILABLE
        return AVAILABLE if reachable.get(spec.provider, True) else UNAVAILABLE
