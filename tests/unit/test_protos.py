"""Contract-wide checks on the protos (docs/protos.md): every RPC declares who
may call it and its REST mapping, and the conventions hold everywhere: file
options, stream shape, field behavior, vocabularies, method names, request
size limits and comments."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import aether
import pytest
from aether.common.v1 import access_pb2
from buf.validate import validate_pb2
from google.api import annotations_pb2, field_behavior_pb2
from google.protobuf import descriptor_pb2, descriptor_pool

from servers.platform.access import access_rule

ROOT = Path(__file__).resolve().parents[2]
GO_MODULE = "github.com/aether-dev/aether/gen/go"
SERVED = {"auth", "tasks", "analytics", "ai", "rag", "common", "events"}
# Services for Aether's own servers only: no REST binding, so the edge never routes them.
INTERNAL_SERVICES = {"aether.auth.v1.ServiceTokenService", "aether.auth.v1.UserDirectoryService"}

FieldProto = descriptor_pb2.FieldDescriptorProto
OUTPUT_ONLY = field_behavior_pb2.FieldBehavior.OUTPUT_ONLY
REQUIRED = field_behavior_pb2.FieldBehavior.REQUIRED
IMMUTABLE = field_behavior_pb2.FieldBehavior.IMMUTABLE


def _services() -> list[Any]:
    for module in pkgutil.walk_packages(aether.__path__, "aether."):
        if module.name.endswith("_pb2"):
            importlib.import_module(module.name)
    pool = descriptor_pool.Default()
    found = []
    for module in pkgutil.walk_packages(aether.__path__, "aether."):
        if module.name.endswith("_service_pb2"):
            file = pool.FindFileByName(module.name.replace(".", "/").removesuffix("_pb2") + ".proto")
            found += list(file.services_by_name.values())
    return found


def test_all_eight_domains_have_a_service() -> None:
    packages = {s.full_name.split(".")[1] for s in _services()}
    assert packages == {"auth", "tasks", "analytics", "ai", "code", "integrations", "rag", "containers"}


def test_every_rpc_has_an_access_rule_and_a_rest_route() -> None:
    http = cast(Any, annotations_pb2.http)
    for service in _services():
        for method in service.methods:
            rule = access_rule(f"/{service.full_name}/{method.name}")  # raises if missing
            assert rule.public or rule.permissions or service.full_name.startswith("aether.auth."), (
                method.full_name
            )
            route = method.GetOptions().Extensions[http]
            if service.full_name in INTERNAL_SERVICES:
                assert route.WhichOneof("pattern") is None, f"{method.full_name}: internal, no REST"
                continue
            path = getattr(route, route.WhichOneof("pattern"))
            assert path.startswith("/api/v1/"), method.full_name


def test_only_the_spec_public_endpoints_are_public() -> None:
    public = {
        f"{s.name}.{m.name}"
        for s in _services()
        for m in s.methods
        if access_rule(f"/{s.full_name}/{m.name}").public and s.full_name not in INTERNAL_SERVICES
    }
    assert public == {
        "AuthService.Register",
        "AuthService.Login",
        "AuthService.Refresh",
        "AuthService.GetJwks",
        "AnalyticsService.GetHealth",
        "IntegrationService.ReceiveWebhook",
    }


# --- conventions, checked on a buf image of protos/ built with source info -----


class Image:
    """Our files of a `buf build` image, with lookups by full name."""

    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
        self.files = [f for f in files if f.name.startswith("aether/")]
        self.messages: dict[str, tuple[descriptor_pb2.FileDescriptorProto, descriptor_pb2.DescriptorProto]]
        self.messages = {}
        for file in self.files:
            for message in file.message_type:
                self.messages[f".{file.package}.{message.name}"] = (file, message)

    def methods(self) -> Iterator[tuple[descriptor_pb2.FileDescriptorProto, str, Any]]:
        for file in self.files:
            for service in file.service:
                for method in service.method:
                    yield file, service.name, method

    def comments(self, file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
        return {tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    out = tmp_path_factory.mktemp("image") / "image.binpb"
    buf = Path(sys.executable).parent / "buf"
    subprocess.run([str(buf if buf.exists() else "buf"), "build", "-o", str(out)], check=True, cwd=ROOT)
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(out.read_bytes())
    return Image(list(fds.file))


def _domain(file: descriptor_pb2.FileDescriptorProto) -> str:
    return file.package.split(".")[1]


def _behaviors(field: FieldProto) -> set[int]:
    return set(field.options.Extensions[field_behavior_pb2.field_behavior])


def _plain(field: FieldProto) -> bool:
    """A field without presence tricks: not in a oneof, not proto3 `optional`."""
    return not field.HasField("oneof_index") and not field.proto3_optional


def test_every_file_has_its_go_package(image: Image) -> None:
    for file in image.files:
        directory = file.name.rsplit("/", 1)[0]
        alias = "".join(file.package.split(".")[1:])
        assert file.options.go_package == f"{GO_MODULE}/{directory};{alias}", file.name


def test_every_server_stream_is_a_oneof_ending_with_final(image: Image) -> None:
    for _, service, method in image.methods():
        if not method.server_streaming:
            continue
        where = f"{service}.{method.name}"
        assert not method.name.startswith(("Get", "List")), f"{where}: a stream is not a Get/List"
        _, response = image.messages[method.output_type]
        assert [o.name for o in response.oneof_decl] == ["event"], where
        assert all(f.HasField("oneof_index") for f in response.field), f"{where}: fields outside the oneof"
        assert all(f.type == FieldProto.TYPE_MESSAGE for f in response.field), where
        names = [f.name for f in response.field]
        assert len(names) == 2 and names[1] == "final", f"{where}: one increment, then `final`: {names}"


def _resource_messages(image: Image) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto]]:
    for file in image.files:
        base = file.name.rsplit("/", 1)[1]
        if _domain(file) in {"common", "events"} or base == "events.proto" or base.endswith("_service.proto"):
            continue
        for message in file.message_type:
            yield f"{file.package}.{message.name}", message


def test_resource_ids_and_timestamps_are_output_only(image: Image) -> None:
    checked = 0
    for name, message in _resource_messages(image):
        for field in message.field:
            if field.name in {"id", "created_at", "updated_at"}:
                checked += 1
                assert OUTPUT_ONLY in _behaviors(field), f"{name}.{field.name}"
    assert checked > 10


def _request_messages(image: Image) -> set[str]:
    """RPC input types and the aether messages they contain, transitively."""
    todo = [method.input_type for _, _, method in image.methods()]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in image.messages:
            continue
        seen.add(name)
        todo += [f.type_name for f in image.messages[name][1].field if f.type == FieldProto.TYPE_MESSAGE]
    return seen


def _rejects_zero_value(field: FieldProto) -> bool:
    """True if the field's buf.validate rules reject its zero value (so it is required)."""
    rules = field.options.Extensions[validate_pb2.field]
    if rules.ignore == validate_pb2.IGNORE_IF_ZERO_VALUE:
        return False
    if rules.required:
        return True
    kind = rules.WhichOneof("type")
    if kind == "string":
        s = rules.string
        return (
            s.min_len > 0
            or s.min_bytes > 0
            or (len(getattr(s, "in")) > 0 and "" not in getattr(s, "in"))
            or (s.HasField("pattern") and re.search(s.pattern, "") is None)
            or s.WhichOneof("well_known") is not None
        )
    if kind == "bytes":
        return rules.bytes.min_len > 0
    if kind == "map":
        return rules.map.min_pairs > 0
    if kind == "repeated":
        return rules.repeated.min_items > 0
    if kind == "enum":
        return 0 in rules.enum.not_in
    if kind in {"int32", "int64", "uint32", "uint64"}:
        numbers = getattr(rules, kind)
        return (numbers.HasField("gte") and numbers.gte > 0) or (numbers.HasField("gt") and numbers.gt >= 0)
    return False


def test_required_fields_are_exactly_the_validated_ones(image: Image) -> None:
    requests = _request_messages(image)
    for name in requests:
        for field in image.messages[name][1].field:
            where = f"{name}.{field.name}"
            behaviors = _behaviors(field)
            assert OUTPUT_ONLY not in behaviors, f"{where}: a request field is never output only"
            if not _plain(field):
                assert REQUIRED not in behaviors, f"{where}: oneof members and optional fields are optional"
                continue
            assert (REQUIRED in behaviors) == _rejects_zero_value(field), (
                f"{where}: REQUIRED must match the validation rules"
            )


def test_field_behavior_is_only_on_requests_and_resources(image: Image) -> None:
    allowed = _request_messages(image) | {f".{name}" for name, _ in _resource_messages(image)}
    for name, (_, message) in image.messages.items():
        if name not in allowed:
            for field in message.field:
                assert not _behaviors(field), f"{name}.{field.name}: a response-only message"


def _in_list(field: FieldProto) -> list[str]:
    rules = field.options.Extensions[validate_pb2.field]
    return list(getattr(rules.string, "in")) if rules.WhichOneof("type") == "string" else []


def test_every_accepted_string_value_is_documented(image: Image) -> None:
    for file in image.files:
        comments = image.comments(file)
        for m, message in enumerate(file.message_type):
            for f, field in enumerate(message.field):
                comment = comments.get((4, m, 2, f), "")
                for value in _in_list(field):
                    assert f'"{value}"' in comment, f"{message.name}.{field.name}: {value!r} undocumented"


def test_shared_vocabularies_have_one_spelling(image: Image) -> None:
    sort_key = re.compile(r"^[a-z][a-zA-Z0-9]*$")  # a JSON field name
    for file in image.files:
        for message in file.message_type:
            for field in message.field:
                where = f"{file.package}.{message.name}.{field.name}"
                values = _in_list(field)
                if field.name == "order":
                    assert values == ["asc", "desc"], where
                if field.name == "severity" and values:
                    assert set(values) <= {"info", "warning", "error", "critical"}, where
                if field.name == "sort" and _domain(file) not in SERVED:
                    assert values and all(sort_key.match(v) for v in values), where
                if field.name in {"page", "limit"}:
                    assert field.type == FieldProto.TYPE_INT32, where


def test_token_counts_are_int32_and_only_usage_totals_int64(image: Image) -> None:
    totals = {"aether.ai.v1.GetUsageResponse.total_tokens", "aether.ai.v1.ModelUsage.tokens"}
    integers = {FieldProto.TYPE_INT32, FieldProto.TYPE_INT64, FieldProto.TYPE_UINT32, FieldProto.TYPE_UINT64}
    for file in image.files:
        if _domain(file) not in {"ai", "code", "rag"}:
            continue
        for message in file.message_type:
            for field in message.field:
                name = f"{file.package}.{message.name}.{field.name}"
                if field.type in integers and ("token" in field.name or message.name == "TokenUsage"):
                    expected = FieldProto.TYPE_INT64 if name in totals else FieldProto.TYPE_INT32
                    assert field.type == expected, name
                if field.type == FieldProto.TYPE_MESSAGE and "token" in field.name:
                    assert field.type_name == ".aether.ai.v1.TokenUsage", name


def test_unserved_domains_use_standard_method_names(image: Image) -> None:
    # Served RPCs keep their names (renaming one breaks the wire); see docs/protos.md.
    served_exceptions = {"AnalyticsService.GetErrors"}
    for file, service, method in image.methods():
        where = f"{service}.{method.name}"
        _, response = image.messages.get(method.output_type, (None, descriptor_pb2.DescriptorProto()))
        paged = any(f.type_name == ".aether.common.v1.Pagination" for f in response.field)
        if where not in served_exceptions:
            assert paged == method.name.startswith("List"), f"{where}: paged lists are List<R>s"
        if _domain(file) in SERVED:
            continue
        assert not method.name.startswith(("Remove", "Fetch", "Add")), f"{where}: use Delete/Get/Create"
        if method.name.startswith("Delete"):
            assert method.output_type.endswith(f".{method.name}Response"), where
            assert [f.name for f in response.field] == ["success", "message", "id"], where
        if method.name.startswith("Get"):
            assert not method.output_type.endswith("Response"), f"{where}: Get returns the resource"


def test_only_payload_rpcs_raise_the_request_size_limit(image: Image) -> None:
    limits = {}
    for _, service, method in image.methods():
        if method.options.HasExtension(access_pb2.max_request_bytes):
            limits[f"{service}.{method.name}"] = method.options.Extensions[access_pb2.max_request_bytes]
    mib = 1024 * 1024
    assert limits == {
        "CodeService.RunTests": 8 * mib,
        "RagService.IngestDocument": 32 * mib,
        "RagService.BatchIngestDocuments": 32 * mib,
        "IntegrationService.ReceiveWebhook": 25 * mib,
    }
