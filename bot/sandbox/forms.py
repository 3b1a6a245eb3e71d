"""Read Bot API parameters from query strings, url-encoded, multipart and JSON bodies."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from bot.sandbox.errors import ApiError

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_DISPOSITION_PARAM = re.compile(r'(name|filename)="([^"]*)"')


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart upload."""

    field: str
    filename: str
    content_type: str
    data: bytes


class Params:
    """Typed access to one call's parameters, answering 400 the way Telegram does."""

    __slots__ = ("files", "values")

    def __init__(self, values: dict[str, Any], files: dict[str, UploadedFile] | None = None):
        self.values = values
        self.files = files or {}

    def has(self, name: str) -> bool:
        """Tell whether the parameter was given."""
        return name in self.values or name in self.files

    def get_str(self, name: str) -> str | None:
        """Return a string parameter, or None when absent."""
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def require_str(self, name: str) -> str:
        """Return a string parameter that must be present and non-empty."""
        value = self.get_str(name)
        if not value:
            raise ApiError(400, f"Bad Request: {name} is empty")
        return value

    def get_int(self, name: str) -> int | None:
        """Return an integer parameter, or None when absent."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ApiError(400, f"Bad Request: invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def require_int(self, name: str) -> int:
        """Return an integer parameter that must be present."""
        value = self.get_int(name)
        if value is None:
            raise ApiError(400, f"Bad Request: {name} is empty")
        return value

    def get_bool(self, name: str) -> bool:
        """Return a boolean parameter, False when absent."""
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str) -> Any:
        """Return a parameter that holds a JSON object (sent as a string in forms)."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None

    def chat_id(self) -> int | str:
        """Return chat_id as an integer id or an @username."""
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise ApiError(400, "Bad Request: chat not found") from None


def _parse_multipart(body: bytes, content_type: str) -> Params:
    """Split a multipart/form-data body into fields and files."""
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise ApiError(400, "Bad Request: multipart boundary is missing")
    delimiter = b"--" + found[1].encode()
    values: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        names: dict[str, str] = {}
        part_type = "application/octet-stream"
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, rest = line.partition(":")
            if key.strip().lower() == "content-disposition":
                names = dict(_DISPOSITION_PARAM.findall(rest))
            elif key.strip().lower() == "content-type":
                part_type = rest.strip()
        name = names.get("name")
        if name is None:
            continue
        if "filename" in names:
            files[name] = UploadedFile(name, names["filename"], part_type, data)
        else:
            values[name] = data.decode("utf-8", "replace")
    return Params(values, files)


def parse_params(content_type: str, body: bytes, query: str) -> Params:
    """Return the parameters of one call from its body and query string."""
    values: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    if not body:
        return Params(values)
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON body") from None
        if not isinstance(data, dict):
            raise ApiError(400, "Bad Request: JSON body must be an object")
        values.update(data)
        return Params(values)
    if kind == "multipart/form-data":
        parsed = _parse_multipart(body, content_type)
        values.update(parsed.values)
        return Params(values, parsed.files)
    values.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return Params(values)
