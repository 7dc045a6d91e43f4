"""Reading a Box API request: its parameters, and its body small, as JSON or streamed to disk.

No body is held in memory whole unless it is small: JSON, form and multipart ``attributes``
bodies up to :data:`MAX_SMALL_BODY`. File bytes (a multipart ``file`` part, a chunk of an
upload session) are streamed to disk with their SHA-1 computed on the way.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from local_stack.box_errors import BoxError
from local_stack.box_faults import BoxFault

#: The largest JSON, form or multipart ``attributes`` body the server reads into memory.
MAX_SMALL_BODY = 1024 * 1024


class RequestContext:
    """One request being served: its id, body stream and what validation should see."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.request_id = uuid.uuid4().hex[:16]
        self.fault: BoxFault | None = None
        #: The body openapi-core validates; ``None`` skips body validation.
        self.validation_body: bytes | None = None
        self.validation_content_type = request.headers.get("content-type", "")
        self._stream: AsyncIterator[bytes] | None = None

    @property
    def corrupt(self) -> bool:
        return bool(self.fault and self.fault.corrupt_sha1)

    def chunks(self) -> AsyncIterator[bytes]:
        if self._stream is None:
            self._stream = self.request.stream().__aiter__()
        return self._stream

    async def drain(self) -> None:
        """Read what is left of the body, so the client can finish sending before we reply."""
        with contextlib.suppress(Exception):
            async for _ in self.chunks():
                pass

    async def small_body(self) -> bytes:
        data = bytearray()
        async for chunk in self.chunks():
            data += chunk
            if len(data) > MAX_SMALL_BODY:
                await self.drain()
                raise BoxError(400, "bad_request", f"Request body is larger than {MAX_SMALL_BODY} bytes")
        body = bytes(data)
        self.validation_body = body
        return body

    async def json_body(self) -> dict[str, Any]:
        raw = await self.small_body()
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError as exc:
            raise BoxError(400, "bad_request", f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise BoxError(400, "bad_request", "Request body must be a JSON object")
        return parsed

    def fields(self) -> list[str] | None:
        raw = self.request.query_params.get("fields")
        if raw is None:
            return None
        return [name.strip() for name in raw.split(",") if name.strip()]


def int_param(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise BoxError(400, "bad_request", f"{name} must be an integer") from exc


def parse_digest(header: str) -> str:
    """Return the base64 SHA-1 of a ``digest: sha=...`` header (the only form Box accepts)."""
    algorithm, _, value = header.strip().partition("=")
    if algorithm.lower() != "sha" or not value:
        raise BoxError(400, "bad_request", "digest must look like 'sha=<base64 SHA-1>'")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise BoxError(400, "bad_request", "digest is not valid base64") from exc
    if len(raw) != 20:
        raise BoxError(400, "bad_request", "digest must be a SHA-1 (20 bytes)")
    return base64.b64encode(raw).decode("ascii")


async def stream_to_file(chunks: AsyncIterator[bytes], target: Path) -> tuple[str, int]:
    """Write a body to ``target`` as it arrives; return its SHA-1 (hex) and size."""
    digest = hashlib.sha1()
    size = 0
    with target.open("wb") as handle:
        async for chunk in chunks:
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class MultipartUpload:
    """Stream a Box multipart upload: ``attributes`` kept in memory, ``file`` sent to disk."""

    def __init__(self, content_type: str, target: Path) -> None:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise BoxError(400, "bad_request", "Expected a multipart/form-data body with a boundary")
        self.target = target
        self.attributes_raw: bytes | None = None
        self.file_seen = False
        self.file_name: str | None = None
        self.sha1 = hashlib.sha1()
        self.size = 0
        self.error: BoxError | None = None
        self._handle: Any = None
        self._part: str | None = None
        self._buffer = bytearray()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._part = None
        self._buffer = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").lower()] = bytes(self._header_value)
        self._header_field = bytearray()
        self._header_value = bytearray()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        self._part = options.get(b"name", b"").decode("utf-8", "replace")
        if self._part == "file":
            self.file_seen = True
            self.file_name = options.get(b"filename", b"").decode("utf-8", "replace")
            if self.attributes_raw is None:
                self.error = self.error or BoxError(
                    400,
                    "metadata_after_file_contents",
                    "The attributes part of the body must come before the file part",
                )
            elif self._handle is None and self.error is None:
                self._handle = self.target.open("wb")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "attributes":
            self._buffer += data[start:end]
            if len(self._buffer) > MAX_SMALL_BODY:
                self.error = self.error or BoxError(400, "bad_request", "The attributes part is too large")
                self._buffer = bytearray()
        elif self._part == "file" and self._handle is not None:
            chunk = data[start:end]
            self._handle.write(chunk)
            self.sha1.update(chunk)
            self.size += len(chunk)

    def _on_part_end(self) -> None:
        if self._part == "attributes" and self.attributes_raw is None:
            self.attributes_raw = bytes(self._buffer)
        self._part = None

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except Exception as exc:  # the parser raises its own error types on malformed bodies
            self.error = self.error or BoxError(400, "bad_request", f"Malformed multipart body: {exc}")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def validation_body(self) -> tuple[bytes, str]:
        """Rebuild the body for the validator: the real attributes, an empty file part."""
        boundary = "boxlocalvalidation"
        parts = []
        if self.attributes_raw is not None:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="attributes"\r\n\r\n'.encode()
                + self.attributes_raw
                + b"\r\n"
            )
        if self.file_seen:
            filename = (self.file_name or "").replace('"', "")
            parts.append(
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
                    "\r\nContent-Type: application/octet-stream\r\n\r\n\r\n"
                ).encode()
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return body, f"multipart/form-data; boundary={boundary}"


def sha1_hex_to_base64(hex_digest: str) -> str:
    """Return a hex SHA-1 in the base64 form of a ``digest`` header."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")
