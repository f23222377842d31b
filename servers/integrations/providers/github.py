"""GitHub's REST API (https://docs.github.com/en/rest): the token's user,
its repositories (following `Link: rel="next"`), creating an issue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from servers.integrations.domain import Account, Issue, Repo
from servers.integrations.providers.http import ProviderHttp

API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 10  # 1,000 repositories: beyond that, GitHub's search is the tool


def reason(response: httpx.Response) -> str:
    """GitHub's error body: {"message": ..., "documentation_url": ...}."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    return f"{response.status_code} {message or response.reason_phrase}"


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) and value else None


def repo_from_json(item: dict[str, Any]) -> Repo:
    return Repo(
        id=str(item.get("id", "")),
        name=item.get("name") or "",
        full_name=item.get("full_name") or "",
        private=bool(item.get("private")) or item.get("visibility") == "internal",
        stars=int(item.get("stargazers_count") or 0),
        forks=int(item.get("forks_count") or 0),
        description=item.get("description") or "",
        html_url=item.get("html_url") or "",
        default_branch=item.get("default_branch") or "",
        language=item.get("language") or "",
        pushed_at=_time(item.get("pushed_at")),
    )


class GithubApi:
    def __init__(self, http: ProviderHttp):
        self._http = http

    @staticmethod
    def _headers(token: str) -> dict[str, str]:
        return {
            "authorization": f"Bearer {token}",
            "accept": "application/vnd.github+json",
            "x-github-api-version": API_VERSION,
        }

    async def verify(self, token: str) -> Account:
        user = (await self._http.request("GET", "/user", headers=self._headers(token))).json()
        return Account(str(user.get("login") or user.get("id") or "unknown"))

    async def repos(self, token: str) -> list[Repo]:
        """Every repository the token can see (up to MAX_PAGES pages)."""
        found: list[Repo] = []
        url: str | None = f"/user/repos?per_page={PER_PAGE}&sort=pushed"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = await self._http.request(
                "GET", url, route="GET /user/repos", headers=self._headers(token)
            )
            found += [repo_from_json(item) for item in response.json()]
            url = response.links.get("next", {}).get("url")
        return found

    async def create_issue(self, token: str, repository: str, title: str, body: str) -> Issue:
        response = await self._http.request(
            "POST",
            f"/repos/{repository}/issues",
            route="POST /repos/issues",
            headers=self._headers(token),
            json={"title": title, "body": body},
        )
        issue = response.json()
        return Issue(int(issue.get("number", 0)), str(issue.get("html_url", "")))
