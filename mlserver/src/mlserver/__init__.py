"""CPU reference inference server for Drishtiksha.

A small FastAPI application that speaks the inference-server contract (``CONTRACT.md``, beside
this distribution's ``pyproject.toml``) with classic signal-processing detectors instead of
trained networks, so the platform can be developed, tested and demonstrated without a GPU.
It imports nothing from Django on purpose: it is a separate service, with its own distribution.
"""

__version__ = "0.1.0"
