"""The names of this app's Celery tasks, defined once: `media_analysis.<the service it runs>`.

The services enqueue by these names (`drishtiksha.task_send`) rather than by
importing `media_analysis.tasks`, which imports them: the tasks sit on top of the services.
"""

ANALYSIS_EXECUTE = "media_analysis.analysis_execute"
RUN_FINALIZE = "media_analysis.run_finalize"
RUN_DISPATCH = "media_analysis.run_dispatch"
RUNS_REAP = "media_analysis.runs_reap"
ROBUSTNESS_COPY_MAKE = "media_analysis.robustness_copy_make"
LINK_IMPORT_FETCH = "media_analysis.link_import_fetch"
EVALUATION_FINALIZE = "media_analysis.evaluation_finalize"
