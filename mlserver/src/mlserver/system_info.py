"""True figures about the machine, for ``/stats``, ``/device`` and ``/system``."""

from __future__ import annotations

import functools
import platform
from pathlib import Path
from typing import Any

import psutil

BYTES_PER_GIB = 1024**3
_CPUINFO = Path("/proc/cpuinfo")
_GIB_DECIMALS = 2


@functools.cache
def cpu_model_name() -> str:
    """The CPU's marketing name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in _CPUINFO.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_info() -> dict[str, Any]:
    """The contract's ``device_info`` for a CPU: every field but type and name is null."""
    return {
        "type": "cpu",
        "name": cpu_model_name(),
        "total_memory": None,
        "used_memory": None,
        "free_memory": None,
        "memory_usage_percent": None,
        "compute_capability": None,
        "cuda_version": None,
    }


def system_info(uptime_seconds: float) -> dict[str, Any]:
    """The contract's ``system_info``; used RAM is what is not available to new processes."""
    memory = psutil.virtual_memory()
    return {
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": psutil.cpu_count(logical=True),
        "total_ram": round(memory.total / BYTES_PER_GIB, _GIB_DECIMALS),
        "used_ram": round((memory.total - memory.available) / BYTES_PER_GIB, _GIB_DECIMALS),
        "ram_usage_percent": memory.percent,
        "uptime_seconds": round(uptime_seconds, 1),
    }
