"""The API docs page (Swagger UI served by Envoy at /api/docs) in a headless Chromium driven
over the DevTools protocol: every served service is listed, and one real "try it" call made
through the page's own UI (authorized with a real user's token, "Try it out", "Execute")
shows that user's account with status 200. The screenshot is kept as a test artifact."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from servers.devtools.codegen import OPENAPI
from tests.docs.devtools import CHROMIUM, Page, chromium_page
from tests.helpers import STRONG_PASSWORD, unique_email

ARTIFACTS = Path(os.environ.get("AETHER_TEST_ARTIFACTS", "test-artifacts"))
# The operation tried: GET /api/v1/auth/me, Swagger UI's block id is operations-<tag>-<operationId>.
BLOCK = "operations-AuthService-AuthService_GetMe"
IN_BLOCK = f"document.getElementById({json.dumps(BLOCK)})"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium)")


async def _user_token(edge: str) -> tuple[str, str]:
    email = unique_email("docs")
    async with httpx.AsyncClient(base_url=edge, timeout=30) as http:
        registered = await http.post(
            "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD, "name": "Docs"}
        )
        assert registered.status_code == 200, registered.text
        login = await http.post("/api/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD})
        assert login.status_code == 200, login.text
    return email, login.json()["accessToken"]


async def _click(page: Page, selector: str, what: str) -> None:
    """Wait for an enabled element in the operation's block, then click it."""
    find = f"{IN_BLOCK}?.querySelector({json.dumps(selector)})"
    await page.wait_for(f"!!{find} && !{find}.disabled", what, debug=f"{IN_BLOCK}?.innerText")
    await page.evaluate(f"{find}.click()")


async def test_the_docs_page_lists_every_service_and_tries_an_operation(
    edge: str, app_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    email, token = await _user_token(edge)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "api-docs.png"
    screenshot.unlink(missing_ok=True)
    async with chromium_page(tmp_path, "--window-size=1280,1600") as page:
        await page.call("Page.navigate", url=f"{edge}/api/docs")
        tags = await page.wait_for(
            "window.ui && [...document.querySelectorAll('[id^=\"operations-tag-\"]')].map(e => e.id)",
            "Swagger UI to render the document's tags",
            debug="document.body?.innerText.slice(0, 2000)",
        )
        with_routes = {tag["name"] for tag in json.loads(OPENAPI.read_text())["tags"]}
        served = {name.rsplit(".", 1)[1] for name in app_server[1]} & with_routes
        assert served and {f"operations-tag-{name}" for name in served} <= set(tags), tags

        # The Authorize dialog's effect, through Swagger UI's own API: the scheme is bearerAuth.
        authorized = await page.evaluate(
            f"(ui.preauthorizeApiKey('bearerAuth', {json.dumps(token)}),"
            " ui.authSelectors.authorized().has('bearerAuth'))"
        )
        assert authorized, "Swagger UI did not take the bearer token"
        await _click(page, ".opblock-summary-control", "the GetMe operation")
        await _click(page, ".try-out__btn", 'the "Try it out" button')
        await _click(page, ".btn.execute", 'the "Execute" button')
        status = await page.wait_for(
            f"{IN_BLOCK}.querySelector('.live-responses-table .response .response-col_status')"
            "?.innerText.trim()",
            "the response of the call",
            within=60,
            debug=f"{IN_BLOCK}.innerText",
        )
        shown = await page.evaluate(f"{IN_BLOCK}.querySelector('.live-responses-table').innerText")
        curl = await page.evaluate(f"{IN_BLOCK}.querySelector('.curl-command')?.innerText")
        await page.screenshot(screenshot)

    assert status.startswith("200"), shown
    assert email in shown and '"Docs"' in shown, shown  # the caller's account
    assert f"Bearer {token}" in curl and "/api/v1/auth/me" in curl, curl
    assert screenshot.stat().st_size > 10_000
