/**
 * Media page: the live panel. While a run is active each model's row shows its status and a
 * progress bar fed by the websocket; when the run ends (or the connection comes back) the run
 * history is re-read from the server, keeping the runs the reader opened or closed as they were.
 */

import { setUpConfirmDialogs } from "./confirm-dialog.js";
import { announce, readJson, refreshFragments, statusBadge } from "./live.js";
import { ProgressSocket } from "./progress-socket.js";

const vocabulary = readJson("vocabulary");
const activeRunStatuses = new Set(vocabulary.runActive);
// Statuses only move forward; a late event can never undo a later one.
const ANALYSIS_RANK = { PENDING: 0, PROCESSING: 1, COMPLETED: 2, ABSTAINED: 2, FAILED: 2 };
const RUN_RANK = { QUEUED: 0, PROCESSING: 1, ANALYZED: 2, PARTIALLY_ANALYZED: 2, FAILED: 2 };

function runPanel(runId) {
  return document.querySelector(`details.run[data-run-id="${CSS.escape(runId)}"]`);
}

function analysisRow(panel, modelName) {
  return panel?.querySelector(`tr[data-analysis-model="${CSS.escape(modelName ?? "")}"]`);
}

function refreshRuns() {
  const panels = Array.from(document.querySelectorAll("details.run"));
  const wasOpen = new Map(panels.map((panel) => [panel.dataset.runId, panel.open]));
  refreshFragments(["runs", "media-status", "analyze-button"], () => {
    document.querySelectorAll("details.run").forEach((panel) => {
      if (wasOpen.has(panel.dataset.runId)) panel.open = wasOpen.get(panel.dataset.runId);
    });
  });
}

function setRunStatus(panel, status) {
  const current = panel.dataset.runStatus;
  if ((RUN_RANK[status] ?? 0) <= (RUN_RANK[current] ?? 0)) return;
  panel.dataset.runStatus = status;
  panel.querySelector('[data-cell="run-status"]').replaceChildren(statusBadge(status, vocabulary.runStatus));
  // The media's status mirrors its latest run, the first in the history.
  if (panel === document.querySelector("details.run")) {
    const mediaStatus = document.querySelector('[data-live-fragment="media-status"]');
    mediaStatus?.replaceChildren(statusBadge(status, vocabulary.runStatus));
  }
}

function setProgress(tableRow, progress, total) {
  const bar = tableRow.querySelector('[data-cell="progress"]');
  if (!bar) return;
  if (typeof total === "number" && total > 0 && typeof progress === "number") {
    const value = Math.min(progress, total);
    if (bar.hasAttribute("value") && Number(bar.max) === total && bar.value >= value) return;
    bar.max = total;
    bar.value = value;
    bar.setAttribute("aria-valuetext", `${value} of ${total}`);
  }
}

function setAnalysisStatus(panel, modelName, status) {
  const tableRow = analysisRow(panel, modelName);
  if (!tableRow) return null;
  const current = tableRow.dataset.analysisStatus;
  if ((ANALYSIS_RANK[status] ?? 0) <= (ANALYSIS_RANK[current] ?? 0) && status !== current) return null;
  if (status === current) return tableRow;
  tableRow.dataset.analysisStatus = status;
  const cell = tableRow.querySelector('[data-cell="status"]');
  const bar = cell.querySelector('[data-cell="progress"]');
  cell.querySelector(".badge").replaceWith(statusBadge(status, vocabulary.analysisStatus));
  if (bar && ANALYSIS_RANK[status] === 2) bar.remove();
  return tableRow;
}

function applySnapshotRun(run) {
  const panel = runPanel(run.id);
  setRunStatus(panel, run.status);
  run.analyses.forEach((analysis) => {
    const tableRow = setAnalysisStatus(panel, analysis.modelName, analysis.status);
    if (tableRow) setProgress(tableRow, analysis.progress, analysis.total);
  });
}

function onSnapshot(snapshot, { reconnect }) {
  const shownActive = Array.from(document.querySelectorAll("details.run"))
    .filter((panel) => activeRunStatuses.has(panel.dataset.runStatus))
    .map((panel) => panel.dataset.runId);
  const snapshotIds = new Set(snapshot.runs.map((run) => run.id));
  const unknownRun = snapshot.runs.some((run) => !runPanel(run.id));
  const finishedMeanwhile = shownActive.some((id) => !snapshotIds.has(id));
  if (reconnect || unknownRun || finishedMeanwhile) {
    refreshRuns();
    return;
  }
  snapshot.runs.forEach(applySnapshotRun);
}

function onEvent(event) {
  const panel = runPanel(event.runId);
  if (!panel) {
    // A run started elsewhere (another tab, the API): show it.
    refreshRuns();
    return;
  }
  const data = event.data ?? {};
  const label = vocabulary.analysisStatus;
  switch (event.event) {
    case "ANALYSIS_QUEUED":
      setAnalysisStatus(panel, event.modelName, "PENDING");
      break;
    case "ANALYSIS_STARTED":
      setRunStatus(panel, "PROCESSING");
      if (setAnalysisStatus(panel, event.modelName, "PROCESSING")) {
        announce(`${event.modelName}: ${label.PROCESSING}.`);
      }
      break;
    case "FRAME_ANALYSIS_PROGRESS": {
      setRunStatus(panel, "PROCESSING");
      const tableRow = setAnalysisStatus(panel, event.modelName, "PROCESSING");
      if (tableRow) setProgress(tableRow, data.progress, data.total);
      break;
    }
    case "ANALYSIS_COMPLETED":
      // A model that found no evidence also completes, with status ABSTAINED and its reason.
      if (data.status === "ABSTAINED") {
        if (setAnalysisStatus(panel, event.modelName, "ABSTAINED")) {
          const reason = data.abstainReason ? ` (${data.abstainReason})` : "";
          announce(`${event.modelName}: ${label.ABSTAINED}${reason}.`);
        }
      } else if (setAnalysisStatus(panel, event.modelName, "COMPLETED")) {
        const prediction = vocabulary.prediction[data.prediction] ?? "";
        announce(`${event.modelName}: ${label.COMPLETED}${prediction ? `, ${prediction}` : ""}.`);
      }
      break;
    case "ANALYSIS_FAILED":
      if (setAnalysisStatus(panel, event.modelName, "FAILED")) {
        announce(`${event.modelName}: ${label.FAILED}${data.error ? ` (${data.error})` : ""}.`);
      }
      break;
    case "RUN_COMPLETED": {
      const status = vocabulary.runStatus[data.status] ?? data.status;
      const verdict = data.verdict?.label ? `, ${data.verdict.label}` : "";
      announce(`Run #${panel.dataset.runNumber} finished: ${status}${verdict}.`);
      refreshRuns();
      break;
    }
    default:
      break;
  }
}

setUpConfirmDialogs();
const holder = document.querySelector("[data-progress-socket]");
if (holder && "WebSocket" in window) {
  new ProgressSocket({
    path: holder.dataset.progressSocket,
    mediaId: holder.dataset.mediaId,
    onSnapshot,
    onEvent,
  }).start();
}

/**
 * `?t=<seconds>` (a click on a report's chart) starts the player at that moment. It is not
 * played automatically: browsers refuse autoplay with sound, and the reader decides.
 */
function seekFromAddress() {
  const seconds = Number(new URLSearchParams(window.location.search).get("t"));
  const player = document.querySelector("#player video, #player audio");
  if (!player || !Number.isFinite(seconds) || seconds <= 0) return;
  const seek = () => {
    player.currentTime = Math.min(seconds, Number.isFinite(player.duration) ? player.duration : seconds);
  };
  if (player.readyState >= HTMLMediaElement.HAVE_METADATA) seek();
  else player.addEventListener("loadedmetadata", seek, { once: true });
  player.scrollIntoView({ block: "start" });
}

seekFromAddress();
