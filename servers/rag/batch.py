"""Batch ingest: several documents through the one ingest pipeline
(servers/rag/ingest.py), one after another in request order.

One at a time, not concurrently: the embedding model is the limit either
way (the gateway runs one batch at a time), and in order a document that
repeats an earlier one of the same batch finds it stored and adds nothing
(dedupe by content hash needs the first one stored). A document's failure is
reported on its item and the next one starts; a cancelled call stops at
once, and the ingest in progress removes what it stored (ingest.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from servers.platform.errors import AetherError, is_outage
from servers.rag.domain import Document
from servers.rag.ingest import Ingestion, IngestRequest, Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """News of the document at `index`: progress, its document, or its failure."""

    index: int
    event: Progress | Document | Exception


@dataclass(frozen=True)
class Done:
    succeeded: int
    failed: int


async def ingest_batch(ingestion: Ingestion, requests: Sequence[IngestRequest]) -> AsyncIterator[Item | Done]:
    succeeded = failed = 0
    for index, request in enumerate(requests):
        try:
            async for event in ingestion.run(request):
                yield Item(index, event)
        except Exception as error:  # one document's failure, whatever it is, is that document's
            unexpected = not isinstance(error, AetherError) and not is_outage(error)
            log.log(
                logging.ERROR if unexpected else logging.INFO,
                "batch ingest: a document failed",
                exc_info=error if unexpected else None,
                extra={"index": index, "error": str(error)},
            )
            failed += 1
            yield Item(index, error)
        else:
            succeeded += 1
    yield Done(succeeded, failed)
