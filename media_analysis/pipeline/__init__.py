"""The run lifecycle: a media item's analysis run from start to finish, in one package.

Stages, each a module, read in the order a run lives them:

- `common`: what every stage shares (statuses, errors, the run-status rule, task names).
- `start`: `run_start` picks the models, creates the run and its analyses, and asks for dispatch.
- `dispatch`: `run_dispatch` prepares the media and sends one analysis task per model as a chord.
- `execute`: `analysis_execute` / `analysis_fail` run one analysis and record its outcome.
- `finish`: `run_finalize` settles a run from its analyses; `run_resettle` and
  `media_status_realign` repair statuses; `media_status_set` is the one writer of `Media.status`.
- `reaper`: `runs_reap` re-sends or fails analyses that stopped moving and finalizes their runs.

Dependencies go one way: common <- finish <- execute <- dispatch <- start; reaper uses execute and
finish. No module here imports `media_analysis.tasks`: work is enqueued by task name.
"""
