/**
 * Small helpers of the live pages: the server's vocabulary, badges, announcements for screen
 * readers, and re-reading parts of the page from the server (the database is the truth).
 */

const REFRESH_DEBOUNCE_MS = 250;

export function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

export function cssKey(value) {
  return String(value || "none").toLowerCase().replaceAll("_", "-");
}

/** A status badge like the server's `includes/status_badge.html`. */
export function statusBadge(status, labels) {
  const badge = document.createElement("span");
  badge.className = `badge badge-${cssKey(status)}`;
  badge.dataset.status = status;
  badge.textContent = labels[status] ?? status;
  return badge;
}

/** A 0-1 share as the server's `percent` filter shows it. */
export function percent(value) {
  return typeof value === "number" && Number.isFinite(value) ? `${(value * 100).toFixed(1)} %` : "—";
}

/** Say `text` once through the page's polite live region. */
export function announce(text) {
  const region = document.getElementById("live-announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

let pendingNames = new Set();
let pendingCallbacks = [];
let refreshTimer = null;

/**
 * Replace the children of every `[data-live-fragment=name]` with a fresh server rendering of this
 * page. Calls close together are merged into one request.
 */
export function refreshFragments(names, onDone = null) {
  names.forEach((name) => pendingNames.add(name));
  if (onDone) pendingCallbacks.push(onDone);
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(async () => {
    const wanted = pendingNames;
    const callbacks = pendingCallbacks;
    pendingNames = new Set();
    pendingCallbacks = [];
    let response;
    try {
      response = await fetch(window.location.href, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
    } catch {
      return;
    }
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    wanted.forEach((name) => {
      const selector = `[data-live-fragment="${name}"]`;
      const source = fresh.querySelector(selector);
      const target = document.querySelector(selector);
      if (source && target) target.replaceChildren(...Array.from(source.childNodes));
    });
    callbacks.forEach((callback) => callback());
  }, REFRESH_DEBOUNCE_MS);
}
