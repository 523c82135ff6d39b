/**
 * "Your run finished", on every page of a logged-in user: a toast, a count in the tab's title and,
 * once the user opted in, a browser notification.
 *
 * It reads the page's shared progress connection (progress-socket.js), so the dashboard and the
 * media page still open one socket. A toast starts its auto-hide countdown only while the tab is
 * visible, so a toast that arrived in a background tab is still there when the user comes back.
 * The title shows "(n) " while toasts are unseen or open. The page of the run (or of its media)
 * open in this tab already shows the result: no toast and no notification then, only the title
 * count while the tab is hidden.
 *
 * Opt-in is remembered in localStorage; `Notification.requestPermission()` is only ever called
 * from a click on a "Notify me when runs finish" button (the profile page, or the first toast).
 */

import { ProgressSocket } from "./progress-socket.js";

const OPT_IN_KEY = "drishtiksha.notifyRuns";
const OPT_IN_LABEL = "Notify me when runs finish";
const OPT_OUT_LABEL = "Stop browser notifications";
const TITLE_PREFIX = /^\(\d+\) /;

const region = document.querySelector("[data-notifier]");
const toastSeconds = Number(region?.dataset.toastSeconds ?? 0);
const seen = new Set();
const openToasts = new Set();
let unseenWithoutToast = 0;
// Every opt-in control on the page, redrawn together when the choice changes in one of them.
const optInControls = new Set();

function pageUrl(template, id) {
  return template.replace(region.dataset.idPlaceholder, id);
}

function notificationsAvailable() {
  return "Notification" in window;
}

// Storage can be switched off in the browser; the choice then lasts as long as the page.
let choiceInMemory = null;

function storedChoice() {
  try {
    return window.localStorage.getItem(OPT_IN_KEY);
  } catch {
    return choiceInMemory;
  }
}

function storeChoice(value) {
  choiceInMemory = value;
  try {
    window.localStorage.setItem(OPT_IN_KEY, value);
  } catch {
    // Kept in memory only.
  }
}

function optedIn() {
  return notificationsAvailable() && Notification.permission === "granted" && storedChoice() === "on";
}

function choiceMade() {
  return storedChoice() !== null;
}

function updateTitle() {
  const base = document.title.replace(TITLE_PREFIX, "");
  const count = openToasts.size + unseenWithoutToast;
  document.title = count > 0 ? `(${count}) ${base}` : base;
}

function percentRounded(share) {
  return `${Math.round(share * 100)} %`;
}

/** "clip.mp4 — run #2 finished: Likely deepfake (fake score 82 %)", or "… failed: reason". */
function describe(event) {
  const data = event.data ?? {};
  const media = data.media ?? {};
  const latest = media.latestRun;
  const run = latest && latest.id === event.runId ? `run #${latest.runNumber}` : "a run";
  const name = media.filename ?? "A file";
  if (data.status === "FAILED") {
    const reason = data.errorMessage || "no model could analyse it";
    return { failed: true, text: `${name} — ${run} failed: ${reason}` };
  }
  const verdict = data.verdict ?? {};
  let outcome = "no verdict (no model found evidence either way)";
  if (verdict.label) {
    const score = verdict.fakeScore;
    const shown = typeof score === "number" ? ` (fake score ${percentRounded(score)})` : "";
    outcome = `${verdict.label}${shown}`;
  }
  const partly = data.status === "PARTIALLY_ANALYZED" ? " (some models failed)" : "";
  return { failed: false, text: `${name} — ${run} finished${partly}: ${outcome}` };
}

// The run's own page, its media's page, or a page listing its media live (the dashboard's row
// turns "Analyzed" by itself) already says it finished: a toast there would only cover it.
function pageShowsRun(event) {
  const path = window.location.pathname;
  return (
    path === pageUrl(region.dataset.runUrl, event.runId) ||
    path === pageUrl(region.dataset.mediaUrl, event.mediaId) ||
    document.querySelector(`[data-media-id="${CSS.escape(String(event.mediaId))}"]`) !== null
  );
}

function optInChanged() {
  // The first toast's offer has been answered, wherever it was.
  document.querySelectorAll(".toast-optin").forEach((element) => element.remove());
  optInControls.forEach((show) => show());
}

/** Fills `container` with the opt-in button, or hides it where asking is pointless. */
function renderOptIn(container) {
  if (!notificationsAvailable() || Notification.permission === "denied") {
    container.hidden = true;
    return;
  }
  const button = container.querySelector("button") ?? document.createElement("button");
  button.type = "button";
  button.className = button.className || "button";
  const state = container.querySelector("[data-notify-optin-state]");
  const show = () => {
    if (!container.isConnected) {
      optInControls.delete(show);
      return;
    }
    if (Notification.permission === "denied") {
      container.hidden = true;
      return;
    }
    const on = optedIn();
    button.textContent = on ? OPT_OUT_LABEL : OPT_IN_LABEL;
    if (state) state.textContent = on ? "Your browser will tell you when a run finishes." : "";
  };
  button.onclick = async () => {
    if (optedIn()) {
      storeChoice("off");
    } else {
      const permission =
        Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
      if (permission === "granted") storeChoice("on");
      if (permission === "denied") storeChoice("off");
    }
    optInChanged();
  };
  if (!button.isConnected) container.append(button);
  container.hidden = false;
  optInControls.add(show);
  show();
}

function dismiss(toast) {
  window.clearTimeout(toast.hideTimer);
  openToasts.delete(toast);
  toast.remove();
  updateTitle();
}

function startCountdown(toast) {
  if (toastSeconds <= 0 || document.visibilityState !== "visible" || toast.paused) return;
  window.clearTimeout(toast.hideTimer);
  toast.hideTimer = window.setTimeout(() => dismiss(toast), toastSeconds * 1000);
}

function pauseCountdown(toast, paused) {
  toast.paused = paused;
  if (paused) window.clearTimeout(toast.hideTimer);
  else startCountdown(toast);
}

function showToast(event, { text, failed }) {
  const toast = document.createElement("div");
  toast.className = `toast${failed ? " toast-failed" : ""}`;
  toast.dataset.toast = event.runId;
  const message = document.createElement("p");
  message.className = "toast-text";
  message.textContent = text;
  const link = document.createElement("a");
  link.href = pageUrl(region.dataset.runUrl, event.runId);
  link.textContent = "Open the run";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-dismiss";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => dismiss(toast));
  toast.append(message, link, close);
  if (!choiceMade() && notificationsAvailable() && Notification.permission !== "denied") {
    const optIn = document.createElement("p");
    optIn.className = "toast-optin";
    const offer = document.createElement("button");
    offer.className = "link-button";
    optIn.append(offer);
    toast.append(optIn);
    region.append(toast);
    renderOptIn(optIn);
  }
  // Hovering or keyboard focus holds the toast, so it never vanishes while being read or used.
  toast.addEventListener("mouseenter", () => pauseCountdown(toast, true));
  toast.addEventListener("mouseleave", () => pauseCountdown(toast, false));
  toast.addEventListener("focusin", () => pauseCountdown(toast, true));
  toast.addEventListener("focusout", () => pauseCountdown(toast, false));
  if (!toast.isConnected) region.append(toast);
  openToasts.add(toast);
  startCountdown(toast);
}

function notifyBrowser(event, { text, failed }) {
  if (!optedIn()) return;
  const url = pageUrl(region.dataset.runUrl, event.runId);
  // The tag makes the browser replace, not stack, the same run's notification from other tabs.
  const notification = new Notification(failed ? "Run failed" : "Run finished", {
    body: text,
    tag: `run-${event.runId}`,
  });
  notification.addEventListener("click", () => {
    window.focus();
    notification.close();
    window.location.assign(url);
  });
}

function onEvent(event) {
  if (event.event !== "RUN_COMPLETED") return;
  // A reconnect can deliver the same event again.
  const key = `${event.runId}|${event.sequence}`;
  if (seen.has(key)) return;
  seen.add(key);
  if (pageShowsRun(event)) {
    if (document.visibilityState !== "visible") {
      unseenWithoutToast += 1;
      updateTitle();
    }
    return;
  }
  const description = describe(event);
  showToast(event, description);
  updateTitle();
  notifyBrowser(event, description);
}

function setUp() {
  document.querySelectorAll("[data-notify-optin]").forEach((container) => renderOptIn(container));
  if (!region?.dataset.socketPath || !("WebSocket" in window)) return;
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    unseenWithoutToast = 0;
    openToasts.forEach(startCountdown);
    updateTitle();
  });
  new ProgressSocket({ path: region.dataset.socketPath, onSnapshot: () => {}, onEvent }).start();
}

setUp();
