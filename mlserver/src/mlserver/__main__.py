"""``python -m mlserver``: serve the application with uvicorn, configured from the environment."""

from __future__ import annotations

import logging

import uvicorn

from mlserver.app import create_app
from mlserver.config import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main() -> None:
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
