"""RAG rules without I/O: address checks, the connect-time resolver, chunking
by word pieces, metadata filters, reciprocal rank fusion, citations,
settings."""

from __future__ import annotations

import itertools
import socket

import pytest
from pydantic import ValidationError

from servers.platform.errors import InvalidArgument
from servers.rag.addresses import blocked_reason, legacy_ipv4
from servers.rag.chunking import Chunker, load_tokenizer
from servers.rag.domain import ChunkingPlan, Condition, Extracted, Hit, clean_metadata, parse_filters
from servers.rag.fetch import Blocked, GuardedResolver
from servers.rag.main import RagSettings
from servers.rag.retrieval import rrf
from servers.rag.usecases import DONT_KNOW, cited
from servers.rag.vectors import chroma_where


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "0.0.0.0",  # noqa: S104
        "::",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "100.64.0.1",  # CGNAT
        "169.254.169.254",
        "100.100.100.200",
        "fd00:ec2::254",
        "fe80::1",
        "224.0.0.1",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "fc00::1",
    ],
)
def test_internal_addresses_are_blocked(address: str) -> None:
    assert blocked_reason(address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(address) is None


@pytest.mark.parametrize(
    ("host", "means"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
    ],
)
def test_unusual_ipv4_spellings_are_recognised(host: str, means: str) -> None:
    assert legacy_ipv4(host) == means
    assert legacy_ipv4("127.0.0.1") is None and legacy_ipv4("example.com") is None


class _Rebinding:
    """A resolver answering first a public address, then loopback (DNS rebinding)."""

    def __init__(self) -> None:
        self.answers = [["93.184.215.14"], ["93.184.215.14", "127.0.0.1"]]

    async def resolve(
        self, host: str, port: int = 0, family: int = socket.AF_INET
    ) -> list[dict[str, object]]:
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.answers.pop(0)
        ]

    async def close(self) -> None:
        return None


async def test_the_resolver_checks_the_addresses_the_connection_will_use() -> None:
    resolver = GuardedResolver(frozenset())
    resolver._inner = _Rebinding()  # type: ignore[assignment]
    assert (await resolver.resolve("rebind.example", 80))[0]["host"] == "93.184.215.14"
    with pytest.raises(Blocked, match="127.0.0.1"):
        await resolver.resolve("rebind.example", 80)  # the second answer, at connect time


async def test_the_allow_list_is_exact_host_and_port() -> None:
    resolver = GuardedResolver(frozenset({"localhost:8080"}))
    assert await resolver.resolve("localhost", 8080)
    with pytest.raises(Blocked):
        await resolver.resolve("localhost", 8081)


def test_test_hosts_are_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="production"):
        RagSettings(aether_env="production", rag_url_allow_hosts="127.0.0.1:8080")
    assert RagSettings(aether_env="production").allow_hosts == frozenset()
    assert RagSettings(rag_url_allow_hosts="127.0.0.1:1, a:2").allow_hosts == {"127.0.0.1:1", "a:2"}


def test_chunks_fit_the_model_and_overlap() -> None:
    chunker = Chunker(load_tokenizer())
    sentences = [f"Sentence number {i} talks about tokenization and overlap." for i in range(60)]
    text = " ".join(sentences)
    chunks = chunker.split(Extracted([(text, 0, "")]), ChunkingPlan(64, 16))
    assert len(chunks) > 5
    assert all(chunker.count(c.text) <= 64 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)  # ends at sentence ends
    for a, b in itertools.pairwise(chunks):
        assert set(a.text.split()[-8:]) & set(b.text.split()[:20])  # consecutive chunks share text
    covered = " ".join(c.text for c in chunks)
    assert all(s in covered for s in sentences)


def test_sections_keep_their_page_and_heading() -> None:
    chunker = Chunker(load_tokenizer())
    chunks = chunker.split(Extracted([("one page", 1, ""), ("two page", 2, "A > B")]), ChunkingPlan())
    assert [(c.index, c.page, c.heading) for c in chunks] == [(0, 1, ""), (1, 2, "A > B")]


def test_overlap_must_be_below_size() -> None:
    with pytest.raises(InvalidArgument):
        ChunkingPlan(64, 64)


def test_filters_parse_to_typed_conditions() -> None:
    conditions = parse_filters({"a": "x", "b": [1, 2.0], "c": {"$gte": 3}, "d": {"$nin": ["u"]}, "e": True})
    assert conditions == (
        Condition("a", "$eq", "x"),
        Condition("b", "$in", (1, 2)),
        Condition("c", "$gte", 3),
        Condition("d", "$nin", ("u",)),
        Condition("e", "$eq", True),
    )
    assert chroma_where(conditions[:1], ["doc"]) == {
        "$and": [{"m.a": {"$eq": "x"}}, {"document_id": {"$in": ["doc"]}}]
    }
    for bad in (
        {"a": {"$regex": "x"}},
        {"a": {"$gt": "x"}},
        {"a": {"$in": []}},
        {"a": {"x": 1, "y": 2}},
        {"a": {"$eq": {"n": 1}}},
    ):
        with pytest.raises(InvalidArgument):
            parse_filters(bad)


def test_metadata_is_flat_and_numbers_are_normalised() -> None:
    assert clean_metadata({"n": 3.0, "f": 2.5, "b": False}) == {"n": 3, "f": 2.5, "b": False}
    with pytest.raises(InvalidArgument):
        clean_metadata({"nested": {"a": 1}})
    with pytest.raises(InvalidArgument):
        clean_metadata({f"k{i}": i for i in range(33)})


def test_rrf_rewards_agreement() -> None:
    assert rrf([(1.0, ["a", "b"]), (1.0, ["b", "c"])]) == ["b", "a", "c"]
    assert rrf([(1.0, ["a", "b"]), (0.1, ["b", "c"])], k=1) == ["a", "b", "c"]


def _hit(n: int) -> Hit:
    return Hit(f"c{n}", f"d{n}", "t", n, 0, "text", {}, 0.5)


def test_only_retrieved_chunks_can_be_cited() -> None:
    hits = [_hit(1), _hit(2)]
    assert [h.chunk_id for h in cited("A [2] and [9].", hits)] == ["c2"]
    assert cited(DONT_KNOW + " [1]", hits) == ()
