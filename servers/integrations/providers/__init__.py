"""Clients of the providers' HTTP APIs (GitHub REST, Slack Web API, Discord
REST), each bound to its API base from settings and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from servers.integrations.domain import Account, Credentials, DiscordCredentials, GithubCredentials
from servers.integrations.providers import discord, github, slack
from servers.integrations.providers.http import ProviderHttp


@dataclass(frozen=True)
class Providers:
    github: github.GithubApi
    slack: slack.SlackApi
    discord: discord.DiscordApi
    clients: tuple[ProviderHttp, ...]

    @classmethod
    def at(
        cls,
        github_base: str,
        slack_base: str,
        discord_base: str,
        *,
        max_attempts: int,
        max_wait_seconds: float,
    ) -> Providers:
        def client(title: str, base: str, reason: Callable[[httpx.Response], str]) -> ProviderHttp:
            return ProviderHttp(
                title,
                base,
                reason_of=reason,
                max_attempts=max_attempts,
                max_wait_seconds=max_wait_seconds,
            )

        gh = client("GitHub", github_base, github.reason)
        sl = client("Slack", slack_base, slack.reason)
        dc = client("Discord", discord_base, discord.reason)
        return cls(github.GithubApi(gh), slack.SlackApi(sl), discord.DiscordApi(dc), (gh, sl, dc))

    async def verify(self, credentials: Credentials) -> Account:
        """Who the credentials belong to, by one call to the provider."""
        match credentials:
            case GithubCredentials(token=token):
                return await self.github.verify(token)
            case DiscordCredentials(bot_token=token):
                return await self.discord.verify(token)
            case _:
                return await self.slack.verify(credentials.bot_token)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
