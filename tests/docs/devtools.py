"""A headless Chromium driven over the DevTools protocol (websocket-client), for the API docs
page test: start it on a fresh profile, evaluate JavaScript in its page, poll for a condition,
take a screenshot, and always kill it.

The servers under test run on the test's event loop, so every blocking websocket exchange
runs in a worker thread and every wait polls with asyncio.sleep."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import websocket

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",  # Chromium picks a free port and writes it to DevToolsActivePort
)
START_TIMEOUT = 60.0
CALL_TIMEOUT = 60.0


class DevToolsError(AssertionError):
    pass


class Page:
    """One page target's DevTools session."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:  # events (none are enabled, but be safe) are skipped
            try:
                message = json.loads(self._ws.recv())
            except websocket.WebSocketTimeoutException:
                raise DevToolsError(f"{method}: no answer from Chromium in {CALL_TIMEOUT:.0f}s") from None
            if message.get("id") == call_id:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self._call, method, params)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), or a DevToolsError with
        the page's exception."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise DevToolsError(f"{expression[:200]!r} threw: {text}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, *, within: float = 30.0, debug: str = "") -> Any:
        """Poll until `expression` is truthy; its value. On timeout, fail naming `what` and
        showing the value of the `debug` expression (e.g. the text of the relevant block)."""
        deadline = time.monotonic() + within
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                shown = await self.evaluate(debug) if debug else None
                raise DevToolsError(f"timed out after {within:.0f}s waiting for {what}; page: {shown!r}")
            await asyncio.sleep(0.1)

    async def screenshot(self, path: Path) -> None:
        """The whole page (up to Chromium's 16384 px texture limit), as a PNG."""
        size = (await self.call("Page.getLayoutMetrics"))["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16384), "scale": 1}
        shot = await self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=5)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _debugging_port(profile: Path, process: asyncio.subprocess.Process, log: Path) -> int:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise DevToolsError(f"Chromium exited {process.returncode}: {log.read_text()[-2000:]}")
        lines = active.read_text().splitlines() if active.exists() else []
        if lines and lines[0].isdigit():
            return int(lines[0])
        await asyncio.sleep(0.05)
    raise DevToolsError(f"Chromium wrote no {active} in {START_TIMEOUT:.0f}s: {log.read_text()[-2000:]}")


async def _page_socket(port: int) -> str:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        targets = (await http.get("/json/list")).json()
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:  # no initial tab: open one
            pages = [(await http.put("/json/new?about:blank")).json()]
    url: str = pages[0]["webSocketDebuggerUrl"]
    return url


@contextlib.asynccontextmanager
async def chromium_page(workdir: Path, *extra_flags: str) -> AsyncIterator[Page]:
    """A Chromium on a new profile under `workdir` and a session on its page; Chromium is
    terminated (then killed) on the way out, whatever happened."""
    if CHROMIUM is None:
        raise DevToolsError("no Chromium (apt-get install chromium)")
    profile = workdir / "profile"
    profile.mkdir(parents=True)
    log = workdir / "chromium.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *[CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra_flags, "about:blank"],
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
    ws: websocket.WebSocket | None = None
    try:
        port = await _debugging_port(profile, process, log)
        url = await _page_socket(port)
        # No Origin header: Chromium refuses DevTools websockets from origins it was not told of.
        ws = await asyncio.to_thread(
            websocket.create_connection, url, timeout=CALL_TIMEOUT, suppress_origin=True
        )
        yield Page(ws)
    finally:
        if ws is not None:
            ws.close()
        await _stop(process)
