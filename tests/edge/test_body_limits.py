"""Request size limits: 1 MiB (EdgeSettings.max_request_bytes) for every RPC, or what its
(aether.common.v1.max_request_bytes) option declares, on its REST and its native gRPC route; and
the server-side receive limit derived from the same option."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from aether.common.v1 import access_pb2
from google.protobuf import descriptor_pb2, descriptor_pool

from servers.edge import EdgeSettings, build_bootstrap, load_descriptor_set, rpcs
from servers.edge.filters import BUFFER_FILTER, TRANSCODER_FILTER
from servers.edge.settings import DEFAULT_MAX_REQUEST_BYTES
from servers.platform.access import max_request_bytes
from tests.edge.conftest import Edge
from tests.edge.fake_auth import SERVICE as AUTH
from tests.edge.synthetic import ROUTED, UPLOAD_LIMIT, synthetic_file, thing_class

UPLOAD = f"{ROUTED}.UploadThing"
OVER_DEFAULT = 1_500_000  # above the 1 MiB default, below UploadThing's 2 MiB


def _routes(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    hcm = config["staticResources"]["listeners"][0]["filterChains"][0]["filters"][0]["typedConfig"]
    return {r["name"]: r for r in hcm["routeConfig"]["virtualHosts"][0]["routes"]}


def _http_filter(config: dict[str, Any], name: str) -> dict[str, Any]:
    hcm = config["staticResources"]["listeners"][0]["filterChains"][0]["filters"][0]["typedConfig"]
    [found] = [f["typedConfig"] for f in hcm["httpFilters"] if f["name"] == name]
    return dict(found)


def _buffer_limit(route: dict[str, Any]) -> int:
    buffer = route["typedPerFilterConfig"][BUFFER_FILTER]
    assert buffer["@type"] == "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute"
    return int(buffer["buffer"]["maxRequestBytes"])


@pytest.fixture(scope="module")
def augmented(augmented_descriptor: Path) -> dict[str, Any]:
    settings = EdgeSettings(upstreams={AUTH: "127.0.0.1:50051", ROUTED: "127.0.0.1:50052"})
    return build_bootstrap(augmented_descriptor, settings)


# --------------------------------------------------------------------------- the generated config


def test_the_option_is_read_from_the_descriptors(augmented_descriptor: Path) -> None:
    by_name = {rpc.full_name: rpc for rpc in rpcs(load_descriptor_set(augmented_descriptor), [ROUTED])}
    assert by_name[UPLOAD].max_request_bytes == UPLOAD_LIMIT
    assert by_name[f"{ROUTED}.GetThing"].max_request_bytes is None


def test_every_route_without_the_option_gets_the_default(augmented: dict[str, Any]) -> None:
    routes = _routes(augmented)
    for name in (f"rest:{AUTH}.Register:0", f"grpc:{AUTH}.Register", f"rest:{ROUTED}.CancelThing:0"):
        assert _buffer_limit(routes[name]) == DEFAULT_MAX_REQUEST_BYTES, name


def test_a_declared_limit_is_the_limit_of_the_rest_and_the_grpc_route(augmented: dict[str, Any]) -> None:
    routes = _routes(augmented)
    assert _buffer_limit(routes[f"rest:{UPLOAD}:0"]) == UPLOAD_LIMIT
    assert _buffer_limit(routes[f"grpc:{UPLOAD}"]) == UPLOAD_LIMIT


def test_the_transcoder_holds_each_rest_route_to_its_own_limit(augmented: dict[str, Any]) -> None:
    # The transcoder's limit is the one that holds for a REST body: the listener's is the default,
    # and a route with a larger limit carries its own transcoder config with that limit.
    assert _http_filter(augmented, TRANSCODER_FILTER)["maxRequestBodySize"] == DEFAULT_MAX_REQUEST_BYTES
    routes = _routes(augmented)
    upload = routes[f"rest:{UPLOAD}:0"]["typedPerFilterConfig"][TRANSCODER_FILTER]
    assert upload["maxRequestBodySize"] == UPLOAD_LIMIT
    # (The SSE routes of server streams carry one too, with the default limit: tests/edge/test_config.py.)
    others = [
        r
        for name, r in routes.items()
        if name.startswith("rest:") and UPLOAD not in name and not name.endswith(":sse")
    ]
    assert others and all(TRANSCODER_FILTER not in r.get("typedPerFilterConfig", {}) for r in others)


def test_a_zero_limit_is_rejected(tmp_path: Path) -> None:
    file = synthetic_file()
    file.service[0].method[0].options.Extensions[access_pb2.max_request_bytes] = 0
    fds = descriptor_pb2.FileDescriptorSet(file=[file])
    with pytest.raises(ValueError, match="max_request_bytes must be positive"):
        rpcs(fds, [ROUTED])


# --------------------------------------------------------------------------- the server side

SIZE_TEST_SERVICE = "aether.sizetest.v1.SizeTestService"


def _register_size_test_service() -> None:
    """A service declaring 8 MiB on one RPC, in the default pool the servers read."""
    pool = descriptor_pool.Default()
    try:
        pool.FindServiceByName(SIZE_TEST_SERVICE)
        return
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto(
        name="aether/sizetest/v1/sizetest.proto",
        package="aether.sizetest.v1",
        syntax="proto3",
        dependency=["aether/common/v1/access.proto", "google/protobuf/empty.proto"],
    )
    service = file.service.add(name="SizeTestService")
    for name, limit in (("Upload", 8 * 1024 * 1024), ("Ping", None)):
        method = service.method.add(
            name=name, input_type=".google.protobuf.Empty", output_type=".google.protobuf.Empty"
        )
        if limit is not None:
            method.options.Extensions[access_pb2.max_request_bytes] = limit
    pool.Add(file)


def test_a_server_receives_the_largest_declared_request() -> None:
    from google.protobuf import empty_pb2  # noqa: F401 - registers google/protobuf/empty.proto

    _register_size_test_service()
    assert max_request_bytes([SIZE_TEST_SERVICE], 4 * 1024 * 1024) == 8 * 1024 * 1024
    assert max_request_bytes([SIZE_TEST_SERVICE], 16 * 1024 * 1024) == 16 * 1024 * 1024


def test_servers_whose_rpcs_declare_nothing_keep_their_setting() -> None:
    from aether.auth.v1 import auth_service_pb2  # noqa: F401 - registers the service

    assert max_request_bytes([AUTH], 4 * 1024 * 1024) == 4 * 1024 * 1024


# --------------------------------------------------------------------------- a real Envoy
# The edge fixture's default limit is 4 KiB (conftest.MAX_REQUEST_BYTES); UploadThing declares 2 MiB.


@pytest.fixture(scope="module")
def upload_stub(edge: Edge, augmented_descriptor: Path) -> Iterator[Any]:
    thing = thing_class(augmented_descriptor)
    options = [("grpc.max_send_message_length", 4 * UPLOAD_LIMIT)]
    with grpc.insecure_channel(f"127.0.0.1:{edge.port}", options=options) as channel:
        yield (
            thing,
            channel.unary_unary(
                f"/{ROUTED}/UploadThing",
                request_serializer=thing.SerializeToString,
                response_deserializer=thing.FromString,
            ),
        )


def test_a_rest_body_over_the_default_reaches_an_rpc_that_declares_more(edge: Edge) -> None:
    with edge.client() as c:
        r = c.post("/api/v1/edgetest/uploads", json={"name": "x" * OVER_DEFAULT})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["id"] == str(OVER_DEFAULT)


def test_a_rest_body_over_the_declared_limit_is_413(edge: Edge) -> None:
    # Over the transcoder's limit too, but that one sees a chunk of the JSON at a time and lets a
    # body arriving in many chunks through: the route's buffer filter is what refuses it.
    with edge.client() as c:
        r = c.post("/api/v1/edgetest/uploads", json={"name": "x" * (UPLOAD_LIMIT + 1)})
    assert r.status_code == 413
    assert r.json()["code"] == 8  # RESOURCE_EXHAUSTED


def test_native_grpc_honours_the_declared_limit(upload_stub: tuple[Any, Any]) -> None:
    thing, upload = upload_stub
    assert upload(thing(name="x" * OVER_DEFAULT), timeout=10).id == str(OVER_DEFAULT)
    with pytest.raises(grpc.RpcError) as err:
        upload(thing(name="x" * (UPLOAD_LIMIT + 1)), timeout=10)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_small_rest_body_still_passes(edge: Edge) -> None:
    r = httpx.post(f"{edge.base_url}/api/v1/edgetest/uploads", json={"name": "tiny"}, timeout=10)
    assert r.status_code == 200
    assert r.json()["id"] == "4"
