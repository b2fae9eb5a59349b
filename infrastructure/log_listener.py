"""Cross-process wake-ups: PostgreSQL's recorder NOTIFYs its channel on every
append; a follower in another process LISTENs, so it applies new events at
once instead of at its next poll."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

logger = logging.getLogger(__name__)
LISTEN_TIMEOUT_SECONDS = 0.5


class LogListener:
    def __init__(self, recorder: ApplicationRecorder, on_append: Callable[[int], None]) -> None:
        self.recorder = recorder
        self.on_append = on_append
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not isinstance(self.recorder, PostgresApplicationRecorder):
            return  # SQLite is one process: the in-process wake-up is enough
        self._thread = threading.Thread(target=self._listen, name="tally-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _listen(self) -> None:
        recorder = self.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        while not self._stop.is_set():
            try:
                with recorder.datastore.get_connection() as connection:
                    connection.execute(SQL("LISTEN {0}").format(Identifier(recorder.channel_name)))
                    connection.commit()
                    while not self._stop.is_set():
                        for _ in connection.notifies(timeout=LISTEN_TIMEOUT_SECONDS, stop_after=1):
                            self.on_append(0)
            except Exception:  # the connection dropped: listen again; polling covers the gap
                logger.warning("listening for appends failed; retrying", exc_info=True)
                self._stop.wait(1.0)
