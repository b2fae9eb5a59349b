"""How stored events are encoded and decoded: the event store's JSON
transcoder, made to leave alone a caller's object that merely looks like a
transcoded value, and run on orjson.

The store writes a value it transcodes (a Decimal, a UUID, a time) as an
object whose only keys are `_type_` and `_data_`, and reads every such
object back through the transcoding it names. A usage event recorded before
metadata limits refused that shape could carry one with a name no transcoding
has, or data the transcoding refuses; reading it raised, which answered its
event with a 500 and stopped the read model's follower at it for good. Such
an object now decodes as the object it was sent as. Decoding stays a pure
function of the stored bytes, so replays agree.

The format is the library's JSONTranscoder's, byte for byte in meaning:
orjson parses and writes the JSON, and the transcoded values are converted
around it in Python (orjson writes a UUID as plain text on its own, so they
are converted before it sees them). Whatever orjson would read or write
otherwise than the standard library (a non-finite float, an integer beyond
64 bits, a lone surrogate, a key that is not text, a type without a
transcoding, a subclass) takes the library's own path instead, so what is
stored and what is read back are the same values either way
(docs/performance.md, "Per-event work")."""

from __future__ import annotations

import math
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

TRANSCODED_KEYS = frozenset({"_type_", "_data_"})
TYPE_KEY = b'"_type_"'
# Values written as they are: exactly these types (a subclass, e.g. an
# IntEnum, takes the library's path, which writes it as the library does).
PLAIN = frozenset({str, int, bool, type(None)})


class _Unusual(Exception):
    """A value for the library's encoder rather than orjson."""


class StoredValuesTranscoder(JSONTranscoder):
    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._transcoded(obj))
        except (_Unusual, orjson.JSONEncodeError):
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:  # NaN, a big integer, a lone surrogate: as the library reads them
            return super().decode(data)
        expected = data.count(TYPE_KEY)
        if not expected:
            return obj
        if type(obj) is dict and b"\\u" not in data:
            # The usual event: its transcoded values (times, ids) at the top.
            # Each is an object of two text fields, with nothing to convert
            # inside it; when they account for every `"_type_"` in the bytes,
            # nothing deeper is transcoded (an escape could hide one: then
            # every object is looked at).
            found = 0
            for key, value in obj.items():
                if type(value) is dict and len(value) == 2 and type(value.get("_data_")) is str and "_type_" in value:
                    converted = self._decode_obj(value)
                    if converted is not value:
                        obj[key] = converted
                        found += 1
            if found == expected:
                return obj
        return self._converted(obj)

    def _converted(self, value: Any) -> Any:
        """Every transcoded object converted, innermost first, as the
        standard library's object_hook would."""
        if type(value) is dict:
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._converted(item)
            return self._decode_obj(value) if len(value) == 2 else value
        if type(value) is list:
            for index, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    value[index] = self._converted(item)
        return value

    def _transcoded(self, value: Any) -> Any:
        """`value` with each transcoded value as its stored object; _Unusual
        for anything orjson might write differently."""
        kind = type(value)
        if kind is dict:
            out = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise _Unusual
                out[key] = item if type(item) in PLAIN else self._transcoded(item)
            return out
        if kind is list or kind is tuple:
            return [item if type(item) in PLAIN else self._transcoded(item) for item in value]
        if kind in PLAIN:
            return value
        if kind is float:
            if not math.isfinite(value):
                raise _Unusual
            return value
        transcoding = self.types.get(kind)
        if transcoding is None:
            raise _Unusual
        return {"_type_": transcoding.name, "_data_": transcoding.encode(value)}

    def _decode_obj(self, d: dict[str, Any]) -> Any:
        if d.keys() != TRANSCODED_KEYS:
            return d
        name, data = d["_type_"], d["_data_"]
        transcoding = self.names.get(name) if isinstance(name, str) else None
        if transcoding is None or not isinstance(data, str):  # every transcoding registered here reads text
            return d
        try:
            return transcoding.decode(data)
        except (ValueError, ArithmeticError):  # text the transcoding refuses: a caller's object
            return d
