"""The projector child process's entry point: it follows the log into the
read model until its parent is gone, and builds nothing else (no use cases,
no policies)."""

from __future__ import annotations

import os
import time

from infrastructure.settings import Settings
from interfaces.following import open_following
from interfaces.shared_part_health import SharedPartHealth
from interfaces.start_up import freeze_start_up

PARENT_CHECK_SECONDS = 1.0


def run_projector(settings_fields: dict[str, object], parent_pid: int, health: SharedPartHealth) -> None:
    """The child: follow until the parent is gone or the child is stopped."""
    settings = Settings.model_validate(settings_fields)
    if settings.projector_nice and hasattr(os, "nice"):
        os.nice(settings.projector_nice)  # requests first: the view's lag is covered by the log's tail
    following = open_following(settings, health)
    freeze_start_up()
    following.start()
    try:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
    finally:
        following.close()
