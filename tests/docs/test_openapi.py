"""The generated OpenAPI document: a valid OpenAPI 3.1 that lists every REST binding of every
served RPC, served by Envoy with the API docs page (Swagger UI; test_docs_page.py drives it
in headless Chromium)."""

from __future__ import annotations

import json

import httpx
from openapi_spec_validator import validate

from servers.devtools.codegen import DESCRIPTOR, OPENAPI
from servers.edge.descriptors import load_descriptor_set, rpcs


def _document() -> dict:
    return json.loads(OPENAPI.read_text())


def test_the_document_is_valid_openapi() -> None:
    validate(_document())


async def test_every_served_rpc_is_an_operation(app_server: tuple[str, list[str]]) -> None:
    paths = _document()["paths"]
    operations = {op["operationId"] for methods in paths.values() for op in methods.values()}
    served = [rpc for rpc in rpcs(load_descriptor_set(DESCRIPTOR), app_server[1]) if rpc.bindings]
    assert served
    for rpc in served:
        assert f"{rpc.service.rsplit('.', 1)[1]}_{rpc.name}" in operations, rpc.full_name


def test_the_contract_details_are_carried_over() -> None:
    document = _document()
    schemas = document["components"]["schemas"]
    task = schemas["aether.tasks.v1.Task"]["properties"]
    assert task["id"]["readOnly"] is True  # field_behavior OUTPUT_ONLY
    assert task["createdAt"]["format"] == "date-time"
    assert schemas["google.rpc.Status"]["properties"]["details"]["items"]["properties"]["@type"]
    create = document["paths"]["/api/v1/tasks"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert "title" in body["required"]  # field_behavior REQUIRED
    assert create["summary"].startswith("CreateTask creates a task")  # the proto comment
    assert create["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "google.rpc.Status"
    )
    login = document["paths"]["/api/v1/auth/login"]["post"]
    assert login["security"] == []  # access.public
    streams = [
        op
        for methods in document["paths"].values()
        for op in methods.values()
        if "text/event-stream" in op["responses"]["200"]["content"]
    ]
    assert {op["operationId"] for op in streams} >= {"AiService_StreamChat", "RagService_IngestDocument"}
    for op in streams:
        # What Envoy sends: NDJSON as application/json (one message a line), or SSE events
        # whose `data` is one message.
        content = op["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/event-stream"}, op["operationId"]
        data = content["text/event-stream"]["schema"]["properties"]["data"]
        assert data["contentMediaType"] == "application/json"
        assert data["contentSchema"] == content["application/json"]["schema"]
    stream_chat = document["paths"]["/api/v1/ai/chat/stream"]["post"]["responses"]["200"]["content"]
    assert stream_chat["application/json"]["schema"]["$ref"].endswith("StreamChatResponse")


async def test_envoy_serves_the_document_and_the_docs_page(edge: str) -> None:
    async with httpx.AsyncClient(base_url=edge) as http:
        document = await http.get("/api/v1/openapi.json")
        assert document.status_code == 200
        assert document.headers["content-type"] == "application/json"
        assert document.json() == _document()
        page = await http.get("/api/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        bundle = await http.get("/api/docs/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
