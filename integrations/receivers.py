"""How the integrations hear of the analysis pipeline: receivers of its signals, connected in
`IntegrationsConfig.ready`. The pipeline sends them without knowing this app exists."""

from __future__ import annotations

import uuid
from typing import Any

from integrations.services import webhooks_run_completed_enqueue


def run_finished_announce(*, run_id: uuid.UUID, **_signal: Any) -> None:
    """`run_finished`: one `run.completed` delivery per active webhook of the run's owner. The
    signal comes once per run, after the run's final status is committed."""
    webhooks_run_completed_enqueue(run_id=run_id)
