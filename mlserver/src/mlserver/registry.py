"""The active detectors, how they are chosen for a request, and their usage counters."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mlserver.detectors import BUILTIN_DETECTORS, Detector
from mlserver.errors import ModelSelectionError
from mlserver.media import MediaType


class ModelRegistry:
    """Holds one instance of each active detector, in configuration order.

    The first detector is the default model. Inference counters are shared between the
    analysis threads, hence the lock.
    """

    def __init__(
        self, detectors: Sequence[Detector], load_times: Mapping[str, float] | None = None
    ) -> None:
        if not detectors:
            raise ValueError("at least one detector must be active")
        self._detectors = {detector.name: detector for detector in detectors}
        self._load_times = dict(load_times or {})
        self._inference_counts = dict.fromkeys(self._detectors, 0)
        self._lock = threading.Lock()

    @classmethod
    def from_builtin(cls, active_names: Sequence[str] | None) -> ModelRegistry:
        """Instantiate the named built-in detectors (all of them for ``None``), timing each.

        An unknown name is a configuration error and fails start-up with the valid names.
        """
        by_name = {detector_type.name: detector_type for detector_type in BUILTIN_DETECTORS}
        names = list(active_names) if active_names is not None else list(by_name)
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise ValueError(
                f"unknown model(s) {', '.join(unknown)}; available: {', '.join(by_name)}"
            )
        detectors: list[Detector] = []
        load_times: dict[str, float] = {}
        for name in dict.fromkeys(names):
            started = time.perf_counter()
            detectors.append(by_name[name]())
            load_times[name] = time.perf_counter() - started
        return cls(detectors, load_times)

    @property
    def names(self) -> list[str]:
        return list(self._detectors)

    @property
    def default_model(self) -> str:
        return next(iter(self._detectors))

    def detectors(self) -> list[Detector]:
        return list(self._detectors.values())

    def select(self, requested: str | None, media_type: MediaType, extension: str) -> Detector:
        """The detector to run, with the contract's 422 messages when there is none.

        A detector is chosen only for a file whose extension it declares in
        ``accepted_formats``: it is refused before the upload is stored, not after.
        """
        label = media_type.value.upper()
        if requested:
            detector = self._detectors.get(requested)
            if detector is None:
                raise ModelSelectionError(
                    f"Requested model '{requested}' is not active or available."
                )
            if not detector.supports(media_type):
                raise ModelSelectionError(
                    f"Model '{requested}' does not support media of type '{label}'."
                )
            if not detector.reads(extension):
                raise ModelSelectionError(
                    f"Model '{requested}' does not read '.{extension}' files; it reads "
                    f"{', '.join(detector.formats())}."
                )
            return detector
        candidates = [
            d for d in self._detectors.values() if d.supports(media_type) and d.reads(extension)
        ]
        if not candidates:
            raise ModelSelectionError(
                f"No active models found that support media of type '{label}'."
            )
        default = self._detectors[self.default_model]
        return default if default in candidates else candidates[0]

    def record_inference(self, name: str) -> None:
        with self._lock:
            self._inference_counts[name] += 1

    def models_info(self) -> list[dict[str, Any]]:
        """The contract's ``models_info`` entries (note the camelCase media flags).

        ``accepted_formats`` is this server's extension of the contract: the extensions each
        detector reads, so that a client never offers it a file it would refuse.
        """
        with self._lock:
            counts = dict(self._inference_counts)
        load_times = self._load_times
        return [
            {
                "name": detector.name,
                "class_name": type(detector).__name__,
                "description": detector.description,
                "loaded": True,
                "device": "cpu",
                # No weights: these detectors are code only.
                "model_path": None,
                "isAudio": detector.is_audio,
                "isVideo": detector.is_video,
                "isImage": detector.is_image,
                "isMultiModal": detector.is_multimodal,
                "accepted_formats": detector.formats(),
                "memory_usage_mb": None,
                "load_time": round(load_times[name], 4) if name in load_times else None,
                "inference_count": counts[name],
            }
            for name, detector in self._detectors.items()
        ]
