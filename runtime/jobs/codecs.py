"""Decoding a compressed raw file end to end before Spark reads it, with the formats Hadoop's codecs read.

Spark picks a codec by the file name (:mod:`runtime.spark.names`) and then trusts the bytes: a truncated ``.bz2``
yields the records before the cut as if complete, garbage ``.bz2``/``.lz4``/``.snappy`` yields no record at all
(read as "empty"), garbage ``.deflate`` fails the whole batch. So every compressed file is decoded once here,
streaming with bounded memory, and only an intact one reaches Spark:

* ``.gz``, ``.bz2``, ``.deflate`` (zlib with its header): the Python standard library; concatenated members or
  streams are valid, as Hadoop reads them;
* ``.lz4``, ``.snappy``: Hadoop's block format (per block: the 4-byte big-endian raw length, then 4-byte
  length-prefixed compressed chunks), each chunk decoded with pyarrow's raw codecs;
* ``.zst``: zstd frames, decoded with pyarrow.

:func:`decode` returns the first decompressed bytes and hands every decompressed chunk, in order, to an optional
``sink`` (the pre-check's JSON shape scan, :class:`runtime.jobs.json_shape.JsonShapeScan`, runs there: no second
read); it raises :class:`CorruptData` for broken data (the file is poison) and :class:`CodecUnavailable` when this
environment cannot decode the codec (no pyarrow); read errors of the store propagate as they are.
"""

from __future__ import annotations

import bz2
import contextlib
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

STREAM_CHUNK = 1 << 20
HEAD_BYTES = 4096
#: Largest raw block / compressed chunk accepted in Hadoop's block format (its default buffer is 256 KiB).
MAX_HADOOP_BLOCK = 64 << 20


class CorruptData(ValueError):
    """The compressed data is broken (bad header, bad data, truncated): the file is poison.

    An internal signal, outside the :class:`~runtime.errors.MldpError` family on purpose: the pre-check
    (:mod:`runtime.jobs.precheck`) turns it into the file's outcome (QUARANTINED); it never reaches the CLI."""


class CodecUnavailable(RuntimeError):
    """This environment cannot decode the codec (pyarrow is not installed), so the file cannot be verified.

    An internal signal, outside the :class:`~runtime.errors.MldpError` family on purpose: the pre-check turns it
    into the file's outcome (QUARANTINED, unsupported codec); it never reaches the CLI."""


#: Where decompressed bytes go, chunk by chunk, in order.
Sink = Callable[[bytes], None]


class _Head:
    """The first :data:`HEAD_BYTES` decompressed bytes; every decompressed chunk also goes to ``sink``."""

    def __init__(self, sink: Sink | None = None) -> None:
        self.data = b""
        self.sink = sink

    def keep(self, out: bytes) -> None:
        if len(self.data) < HEAD_BYTES:
            self.data += out[: HEAD_BYTES - len(self.data)]
        if self.sink is not None and out:
            self.sink(out)


def _stdlib_members(stream: BinaryIO, head: _Head, new: Callable[[], Any], label: str) -> bytes:
    """Decode a stream of one or more concatenated members with a zlib or bz2 decompressor factory."""
    decoder = new()
    while chunk := stream.read(STREAM_CHUNK):
        data = chunk
        while data:
            if decoder.eof:  # the previous member ended and more input follows: a new member starts
                decoder = new()
            try:
                head.keep(decoder.decompress(data, STREAM_CHUNK))
                # bz2 keeps input it has not decoded yet (output limit reached): drain it
                while isinstance(decoder, bz2.BZ2Decompressor) and not decoder.eof and not decoder.needs_input:
                    head.keep(decoder.decompress(b"", STREAM_CHUNK))
            except (zlib.error, OSError, EOFError, ValueError) as exc:
                raise CorruptData(f"corrupt {label} data: {exc}") from exc
            data = decoder.unused_data if decoder.eof else getattr(decoder, "unconsumed_tail", b"")
    if not decoder.eof:
        raise CorruptData(f"truncated {label} stream (unexpected end of file)")
    return head.data


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    parts, missing = [], size
    while missing:
        part = stream.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError as exc:
        raise CodecUnavailable("it cannot be verified before Spark reads it (pyarrow is not installed)") from exc
    return pyarrow


def _snappy_length(payload: bytes) -> int:
    """The uncompressed length a raw snappy chunk starts with (a little-endian base-128 varint)."""
    value = 0
    for index, byte in enumerate(payload[:5]):
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value
    raise CorruptData("corrupt snappy data: bad length header")


def _hadoop_blocks(stream: BinaryIO, head: _Head, codec_name: str, label: str) -> bytes:
    """Decode Hadoop's block format (``BlockCompressorStream``) chunk by chunk."""
    codec = _pyarrow().Codec(codec_name)
    while header := _read_exact(stream, 4):
        if len(header) < 4:
            raise CorruptData(f"truncated {label} stream (unexpected end of file in a block header)")
        raw, got = int.from_bytes(header, "big"), 0
        if raw > MAX_HADOOP_BLOCK:
            raise CorruptData(f"corrupt {label} data: block of {raw} bytes (not Hadoop's {label} block format)")
        while got < raw:
            length = int.from_bytes(_read_exact(stream, 4).rjust(4, b"\xff"), "big")
            if not 0 < length <= MAX_HADOOP_BLOCK:
                raise CorruptData(f"corrupt or truncated {label} data: bad chunk length")
            payload = _read_exact(stream, length)
            if len(payload) < length:
                raise CorruptData(f"truncated {label} stream (unexpected end of file in a chunk)")
            size = _snappy_length(payload) if codec_name == "snappy" else raw - got
            if not 0 < size <= raw - got:
                raise CorruptData(f"corrupt {label} data: a chunk larger than its block")
            try:
                head.keep(codec.decompress(payload, decompressed_size=size, asbytes=True))
            except (OSError, ValueError) as exc:  # pyarrow.ArrowException is an OSError / ValueError
                raise CorruptData(f"corrupt {label} data: {exc}") from exc
            got += size
    return head.data


def _zstd(stream: BinaryIO, head: _Head, label: str) -> bytes:
    pa = _pyarrow()
    try:
        decoded = pa.CompressedInputStream(pa.PythonFile(stream, mode="r"), "zstd")
        while out := decoded.read(STREAM_CHUNK):
            head.keep(out)
    except (OSError, ValueError) as exc:
        raise CorruptData(f"corrupt {label} data: {exc}") from exc
    return head.data


#: codec suffix -> (label used in reasons, decoder of a binary stream into a :class:`_Head`, returning its bytes)
DECODERS: dict[str, tuple[str, Callable[[BinaryIO, _Head], bytes]]] = {
    ".gz": ("gzip", lambda s, h: _stdlib_members(s, h, lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), "gzip")),
    ".bz2": ("bz2", lambda s, h: _stdlib_members(s, h, bz2.BZ2Decompressor, "bz2")),
    ".deflate": ("deflate", lambda s, h: _stdlib_members(s, h, lambda: zlib.decompressobj(zlib.MAX_WBITS),
                                                         "deflate")),
    ".lz4": ("lz4", lambda s, h: _hadoop_blocks(s, h, "lz4_raw", "lz4")),
    ".snappy": ("snappy", lambda s, h: _hadoop_blocks(s, h, "snappy", "snappy")),
    ".zst": ("zstd", lambda s, h: _zstd(s, h, "zstd")),
}


def label(suffix: str) -> str:
    """How reasons name the codec of ``suffix`` (``.gz`` -> ``gzip``)."""
    return DECODERS[suffix][0]


def decode(stream: BinaryIO, suffix: str, sink: Sink | None = None) -> bytes:
    """Decode all of ``stream`` with the codec of ``suffix`` (a key of :data:`DECODERS`), handing each decompressed
    chunk to ``sink``; return the first :data:`HEAD_BYTES` decompressed bytes. Closes the stream."""
    with contextlib.closing(stream):
        return DECODERS[suffix][1](stream, _Head(sink))
