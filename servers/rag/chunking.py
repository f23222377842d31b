"""Chunks measured in the embedding model's own word pieces, so none is
truncated by the model (all-MiniLM-L6-v2 reads 256 pieces, two of them its
[CLS] and [SEP]): the tokenizer is the model's own uncased BERT WordPiece,
built by Hugging Face `tokenizers` from the model's vocabulary, which ships
beside this module (no torch, no download).

A chunk ends at the last sentence or line end in the second half of its
window when there is one, so chunks rarely cut a sentence; the next chunk
starts `overlap` pieces before that end. Sections (PDF pages, markdown
sections) are chunked separately, so a chunk keeps one page and heading."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from servers.rag.domain import Chunk, ChunkingPlan, Extracted

_SENTENCE_END = (".", "!", "?", ";", ":", "\n")


VOCABULARY = Path(__file__).with_name("all-minilm-l6-v2-vocab.txt")


@cache
def load_tokenizer(path: str = "") -> Any:
    """The embedding model's tokenizer: a tokenizer.json at `path`, else
    all-MiniLM-L6-v2's (lower-cased WordPiece over its vocabulary)."""
    from tokenizers import Tokenizer
    from tokenizers.implementations import BertWordPieceTokenizer  # type: ignore[attr-defined]

    tokenizer = Tokenizer.from_file(path) if path else BertWordPieceTokenizer(str(VOCABULARY), lowercase=True)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class Chunker:
    def __init__(self, tokenizer: Any):
        self._tokenizer = tokenizer

    def split(self, extracted: Extracted, plan: ChunkingPlan) -> list[Chunk]:
        chunks: list[Chunk] = []
        for text, page, heading in extracted.sections:
            for piece in self._windows(text, plan):
                chunks.append(Chunk(len(chunks), piece, page, heading))
        return chunks

    def count(self, text: str) -> int:
        """Word pieces in `text`, without the special tokens."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def _windows(self, text: str, plan: ChunkingPlan) -> list[str]:
        offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
        n = len(offsets)
        out: list[str] = []
        start = 0
        while start < n:
            end = min(start + plan.size, n)
            if end < n:
                end = self._sentence_end(text, offsets, start, end)
            piece = text[offsets[start][0] : offsets[end - 1][1]].strip()
            if piece:
                out.append(piece)
            if end >= n:
                break
            start = max(end - plan.overlap, start + 1)
        return out

    @staticmethod
    def _sentence_end(text: str, offsets: list[tuple[int, int]], start: int, end: int) -> int:
        """The window's end moved back to just after a sentence or line end in
        its second half, if there is one."""
        floor = start + (end - start) // 2
        for i in range(end - 1, floor, -1):
            token_end = offsets[i][1]
            following = text[token_end : offsets[i + 1][0]] if i + 1 < len(offsets) else ""
            if text[token_end - 1 : token_end] in _SENTENCE_END or "\n" in following:
                return i + 1
        return end
