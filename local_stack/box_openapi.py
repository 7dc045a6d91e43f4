"""Loading the Box OpenAPI document and checking requests and responses against it.

The local Box server (:mod:`local_stack.box_server`), started with ``validate=True``, checks
every Box API request and response with openapi-core through :class:`BoxSpecValidator`.
Local URLs are mapped to the hosts the document declares: ``/api/...`` to
``https://upload.box.com``, everything else to ``https://api.box.com``. What is validated:

* parameters (path, query, headers) of every request, and JSON and form bodies in full;
* multipart uploads: the ``attributes`` part in full; the ``file`` part is replaced by an
  empty placeholder, since its bytes went to disk (its size and SHA-1 are checked by the
  server itself against ``content-md5``);
* chunk uploads: the ``digest`` and ``content-range`` headers; the binary body is checked
  by the server against the digest, not by the validator;
* every response: status, headers and JSON body.

Security requirements are not checked by the validator (openapi-core does not support
Box's OAuth 2 scheme); the server enforces bearer tokens itself.

Known gap in the document, bridged on purpose: ``ClientError.code`` is an enum that omits
codes which real Box returns and which the document names in its own response
descriptions (``item_name_in_use`` on a 409, for instance). The validator widens that enum
by exactly the codes in :data:`CODES_MISSING_FROM_SPEC_ENUM`; everything else is strict.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Error codes real Box returns that ``ClientError.code`` in the OpenAPI document omits,
#: with where each is documented. The validator accepts these and no others.
CODES_MISSING_FROM_SPEC_ENUM: dict[str, str] = {
    "item_name_in_use": "409 descriptions of POST /folders and other folder operations",
    "item_name_too_long": "400 descriptions of POST /folders and POST /files/content",
    "file_size_too_small": "400 description of POST /files/upload_sessions",
    "metadata_after_file_contents": "description of the multipart body of POST /files/content",
    "bad_digest": "Box's common errors guide: content-md5 mismatch on upload",
    "digest_mismatch": "what Box answers when a chunked upload's digest does not match",
}


def default_spec_path() -> Path:
    """Return where the Box OpenAPI document is: ``$BOX_OPENAPI_SPEC`` or the shared copy.

    The shared copy sits beside the repository (``<repo>/../shared/specs``), where every
    machine of this project has it.
    """
    from_env = os.environ.get("BOX_OPENAPI_SPEC")
    if from_env:
        return Path(from_env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "specs" / "box-openapi.json"


@dataclass
class OpenApiRequest:
    """A request in the shape openapi-core reads (``openapi_core.protocols.Request``)."""

    host_url: str
    path: str
    method: str
    parameters: Any
    body: bytes | None
    content_type: str


@dataclass
class OpenApiResponse:
    """A response in the shape openapi-core reads (``openapi_core.protocols.Response``)."""

    status_code: int
    data: bytes | None
    headers: Any
    content_type: str


def werkzeug_headers(headers: dict[str, str]) -> Any:
    """Return ``headers`` as the header mapping openapi-core expects on a response."""
    from werkzeug.datastructures import Headers

    return Headers(list(headers.items()))


class BoxSpecValidator:
    """Validate requests and responses against the Box OpenAPI document with openapi-core."""

    def __init__(self, spec_path: Path) -> None:
        from openapi_core import OpenAPI
        from openapi_core.validation.request.validators import (
            V30RequestBodyValidator,
            V30RequestParametersValidator,
        )
        from openapi_core.validation.response.validators import V30ResponseValidator

        document = json.loads(spec_path.read_text(encoding="utf-8"))
        self._widen_error_codes(document)
        api = OpenAPI.from_dict(document)
        self._parameters = V30RequestParametersValidator(api.spec)
        self._body = V30RequestBodyValidator(api.spec)
        self._response = V30ResponseValidator(api.spec)

    @staticmethod
    def _widen_error_codes(document: dict[str, Any]) -> None:
        code = document["components"]["schemas"]["ClientError"]["properties"]["code"]
        code["enum"] = [*code["enum"], *CODES_MISSING_FROM_SPEC_ENUM]

    @staticmethod
    def to_openapi_request(
        method: str,
        path: str,
        query: Iterable[tuple[str, str]],
        headers: Iterable[tuple[str, str]],
        body: bytes | None,
        content_type: str,
    ) -> OpenApiRequest:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        host = "https://upload.box.com" if path.startswith("/api/") else "https://api.box.com"
        parameters = RequestParameters(
            query=ImmutableMultiDict(list(query)),
            header=Headers(list(headers)),
            cookie=ImmutableMultiDict(),
            path={},
        )
        return OpenApiRequest(host, path, method.lower(), parameters, body, content_type.lower())

    def request_errors(self, request: OpenApiRequest, with_body: bool) -> list[str]:
        errors = [_describe(e) for e in self._parameters.iter_errors(request)]
        if with_body and not errors:
            errors += [_describe(e) for e in self._body.iter_errors(request)]
        return errors

    def response_errors(self, request: OpenApiRequest, response: OpenApiResponse) -> list[str]:
        return [_describe(e) for e in self._response.iter_errors(request, response)]


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__
    if cause is not None and str(cause) not in text:
        text += f" ({type(cause).__name__}: {cause})"
    for sub in getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None) or []:
        text += f"; {getattr(sub, 'message', sub)}"
    return text


_VALIDATORS: dict[Path, BoxSpecValidator] = {}
_VALIDATORS_LOCK = threading.Lock()


def load_validator(spec_path: Path | None = None) -> BoxSpecValidator:
    """Return a validator for the document, loading it once per process (it takes ~1.5 s)."""
    path = (spec_path or default_spec_path()).resolve()
    with _VALIDATORS_LOCK:
        if path not in _VALIDATORS:
            if not path.is_file():
                raise FileNotFoundError(
                    f"Box OpenAPI document not found at {path}; set BOX_OPENAPI_SPEC to its path"
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _VALIDATORS[path] = BoxSpecValidator(path)
        return _VALIDATORS[path]
