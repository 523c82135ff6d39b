"""Signals the analysis pipeline sends, so that apps above it can react without being imported.

`run_finished(sender=AnalysisRun, run_id=...)`: a run reached its final status, sent once per run
after the transaction that closed it has committed (a receiver sees the committed run). The
integrations app announces it to webhooks; the pipeline knows nothing of them.
"""

from django.dispatch import Signal

run_finished = Signal()
