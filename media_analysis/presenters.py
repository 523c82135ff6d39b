"""Media, runs and analyses as plain JSON dicts with the wire's camelCase keys.

Used where no HTTP serializer is involved: progress events (the RUN_COMPLETED event carries the
whole media) and the websocket snapshot. Result payloads are left out on purpose: an image's
heatmap alone can weigh megabytes, and clients fetch a run's details over the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def analysis_to_dict(*, analysis: DeepfakeAnalysis) -> dict[str, Any]:
    return {
        "id": str(analysis.id),
        "modelName": analysis.model_name,
        "modelUsed": analysis.model_used,
        "status": analysis.status,
        "prediction": analysis.prediction,
        "confidence": analysis.confidence,
        "abstainReason": analysis.abstain_reason,
        "processingTime": analysis.processing_time,
        "mediaType": analysis.media_type,
        "errorMessage": analysis.error_message,
        "progress": analysis.progress,
        "total": analysis.total,
        "attempts": analysis.attempts,
        "startedAt": _iso(analysis.started_at),
        "finishedAt": _iso(analysis.finished_at),
        "createdAt": _iso(analysis.created_at),
        "updatedAt": _iso(analysis.updated_at),
    }


def run_to_dict(*, run: AnalysisRun) -> dict[str, Any]:
    """A run with its analyses; prefetch `analyses` to keep this to no extra query."""
    return {
        "id": str(run.id),
        "mediaId": str(run.media_id),
        "runNumber": run.run_number,
        "status": run.status,
        "verdict": run.verdict,
        "fakeScore": run.fake_score,
        "agreement": run.agreement,
        "requestedModels": run.requested_models,
        "errorMessage": run.error_message,
        "createdAt": _iso(run.created_at),
        "startedAt": _iso(run.started_at),
        "finishedAt": _iso(run.finished_at),
        "analyses": [analysis_to_dict(analysis=analysis) for analysis in run.analyses.all()],
    }


def media_to_dict(*, media: Media) -> dict[str, Any]:
    """A media item with its latest run and that run's analyses."""
    return {
        "id": str(media.id),
        "filename": media.original_filename,
        "mimetype": media.mimetype,
        "size": media.size,
        "description": media.description,
        "status": media.status,
        "mediaType": media.media_type,
        "hasAudio": media.has_audio,
        "userId": str(media.owner_id),
        "createdAt": _iso(media.created_at),
        "updatedAt": _iso(media.updated_at),
        "latestAnalysisRunId": str(media.latest_run_id) if media.latest_run_id else None,
        "latestRun": run_to_dict(run=media.latest_run) if media.latest_run else None,
    }


def progress_snapshot_to_dict(
    *, runs: list[AnalysisRun], sequences: dict[str, int]
) -> dict[str, Any]:
    """The first websocket message: the active runs with per-model progress.

    Each run carries `sequence`, the last event number already reflected in it, so a client drops
    events numbered up to it; `media` names the file for lists that show runs of many media.
    Prefetch `media` and `analyses` to keep this free of queries.
    """
    return {
        "type": "snapshot",
        "runs": [
            {
                **run_to_dict(run=run),
                "sequence": sequences.get(str(run.id), 0),
                "media": {
                    "id": str(run.media_id),
                    "filename": run.media.original_filename,
                    "mediaType": run.media.media_type,
                    "status": run.media.status,
                },
            }
            for run in runs
        ],
    }
