"""How stored events are decoded: the event store's JSON transcoder, made to
leave alone a caller's object that merely looks like a transcoded value.

The store writes a value it transcodes (a Decimal, a UUID, a time) as an
object whose only keys are `_type_` and `_data_`, and reads every such
object back through the transcoding it names. A usage event recorded before
metadata limits refused that shape could carry one with a name no transcoding
has, or data the transcoding refuses; reading it raised, which answered its
event with a 500 and stopped the read model's follower at it for good. Such
an object now decodes as the object it was sent as. Decoding stays a pure
function of the stored bytes, so replays agree."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import JSONTranscoder

TRANSCODED_KEYS = frozenset({"_type_", "_data_"})


class StoredValuesTranscoder(JSONTranscoder):
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
