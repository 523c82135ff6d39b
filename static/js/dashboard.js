/**
 * Dashboard: status badges and verdicts follow the websocket; counters and rows are re-read from
 * the server whenever a run ends or the connection comes back. Each row's "Edit" popover (a
 * <details>) takes focus to its field when opened and closes on Escape like a dialog.
 */

import { setUpConfirmDialogs } from "./confirm-dialog.js";
import { announce, cssKey, percent, readJson, refreshFragments, statusBadge } from "./live.js";
import { ProgressSocket } from "./progress-socket.js";

const vocabulary = readJson("vocabulary");
const active = new Set(vocabulary.runActive);

function row(mediaId) {
  return document.querySelector(`tr[data-media-id="${CSS.escape(mediaId)}"]`);
}

function shownStatus(tableRow) {
  return tableRow.querySelector('[data-cell="status"] .badge')?.dataset.status;
}

function setStatus(mediaId, status) {
  const tableRow = row(mediaId);
  if (!tableRow || shownStatus(tableRow) === status) return;
  tableRow.querySelector('[data-cell="status"]').replaceChildren(statusBadge(status, vocabulary.runStatus));
  const rerun = tableRow.querySelector("[data-rerun]");
  if (rerun) rerun.disabled = active.has(status);
}

function setVerdict(mediaId, verdict) {
  const cell = row(mediaId)?.querySelector('[data-cell="verdict"]');
  if (!cell) return;
  if (!verdict?.verdict) {
    cell.innerHTML = '<span class="muted">No verdict yet</span>';
    return;
  }
  const label = document.createElement("span");
  label.className = `verdict verdict-${cssKey(verdict.verdict)}`;
  label.textContent = vocabulary.verdict[verdict.verdict] ?? verdict.label;
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = `fake score ${percent(verdict.fakeScore)}`;
  cell.replaceChildren(label, " ", score);
}

function refreshAll() {
  refreshFragments(["counts", "rows"]);
}

function onSnapshot(snapshot, { reconnect }) {
  const running = new Set(snapshot.runs.map((run) => run.mediaId));
  snapshot.runs.forEach((run) => setStatus(run.mediaId, run.media?.status ?? run.status));
  // A row still shown as in progress whose run is no longer active finished while we were away.
  const stale = Array.from(document.querySelectorAll("tr[data-media-id]")).some(
    (tableRow) => active.has(shownStatus(tableRow)) && !running.has(tableRow.dataset.mediaId),
  );
  if (reconnect || stale) refreshAll();
}

function onEvent(event) {
  const tableRow = row(event.mediaId);
  switch (event.event) {
    case "ANALYSIS_QUEUED":
      // A run started elsewhere (another tab, the API) on media shown here as finished.
      if (tableRow && !active.has(shownStatus(tableRow))) {
        setStatus(event.mediaId, "QUEUED");
        refreshFragments(["counts"]);
      }
      break;
    case "ANALYSIS_STARTED":
    case "FRAME_ANALYSIS_PROGRESS":
      setStatus(event.mediaId, "PROCESSING");
      break;
    case "RUN_COMPLETED": {
      const status = event.data?.status;
      if (status) setStatus(event.mediaId, status);
      setVerdict(event.mediaId, event.data?.verdict);
      const name = tableRow?.dataset.filename ?? "A file";
      const verdictLabel = event.data?.verdict?.label;
      announce(
        `${name}: ${vocabulary.runStatus[status] ?? status}${verdictLabel ? `, ${verdictLabel}` : ""}.`,
      );
      refreshFragments(["counts"]);
      break;
    }
    default:
      break;
  }
}

/**
 * Rows are re-rendered from the server at any time, so the popovers are handled by delegation
 * from the document rather than per element. `toggle` does not bubble, hence the capture phase.
 */
function setUpEditPopovers() {
  document.addEventListener(
    "toggle",
    (event) => {
      const popover = event.target;
      if (!(popover instanceof HTMLDetailsElement) || !popover.matches(".popover")) return;
      if (popover.open) popover.querySelector("textarea, input:not([type=hidden])")?.focus();
    },
    true,
  );
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    const popover = event.target instanceof Element ? event.target.closest("details.popover[open]") : null;
    if (!popover) return;
    event.preventDefault();
    popover.open = false;
    popover.querySelector("summary")?.focus();
  });
}

setUpConfirmDialogs();
setUpEditPopovers();
const holder = document.querySelector("[data-progress-socket]");
if (holder && "WebSocket" in window) {
  new ProgressSocket({ path: holder.dataset.progressSocket, onSnapshot, onEvent }).start();
}
