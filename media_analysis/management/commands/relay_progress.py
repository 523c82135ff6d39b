"""Forward the inference server's Redis progress events to the owners' websocket groups."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from media_analysis.relay import ProgressRelay


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        relay = ProgressRelay()
        self.stdout.write(
            f"Relaying {settings.MEDIA_PROGRESS_CHANNEL_NAME} from the inference server's Redis"
        )
        relay.run(
            redis_url=settings.ML_PROGRESS_REDIS_URL,
            channel=settings.MEDIA_PROGRESS_CHANNEL_NAME,
            stop=stop,
        )
        relay.log_counters()
