/**
 * Client of the progress websocket (/ws/progress/): the dashboard, the media page and the
 * run notifier of every page (notifications.js) share one connection per page.
 *
 * The stream is lossy by design. Every (re)connection starts with a snapshot, which is the truth;
 * events then arrive in any order across models, so one is applied only when its `sequence` is
 * newer than the snapshot's for its run and than the last event seen for its run and model.
 * Reconnects back off exponentially; the close codes listed below mean retrying cannot help.
 *
 * The connection itself is never narrowed to one media item (the notifier needs every run of
 * the user); a subscriber with `mediaId` gets its snapshots and events filtered here instead.
 */

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;
// 4401 not logged in, 4403 account inactive, 4404 media not found (media_analysis/consumers.py).
const FINAL_CLOSE_CODES = new Set([4401, 4403, 4404]);

class ProgressConnection {
  constructor(path) {
    this.path = path;
    this.subscribers = new Set();
    this.delay = RECONNECT_MIN_MS;
    this.snapshots = 0;
    this.lastSnapshot = null;
    this.baselines = new Map();
    this.lastSeen = new Map();
    this.stopped = false;
    this.started = false;
  }

  subscribe(subscriber) {
    this.subscribers.add(subscriber);
    // Joined after the first snapshot (module scripts run one after the other): catch up.
    if (this.lastSnapshot) subscriber.snapshot(this.lastSnapshot, { reconnect: false });
    if (!this.started) this.start();
  }

  start() {
    this.started = true;
    window.addEventListener("pagehide", () => {
      this.stopped = true;
      this.socket?.close();
    });
    // A page restored from the back/forward cache comes back with its socket closed.
    window.addEventListener("pageshow", (event) => {
      if (!event.persisted) return;
      this.stopped = false;
      this.connect();
    });
    this.connect();
  }

  connect() {
    const url = new URL(this.path, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = RECONNECT_MIN_MS;
      this.subscribers.forEach((subscriber) => subscriber.onStateChange("open"));
    });
    socket.addEventListener("message", (message) => this.receive(message.data));
    socket.addEventListener("close", (event) => {
      if (this.stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.subscribers.forEach((subscriber) => subscriber.onStateChange("refused", event.code));
        return;
      }
      this.subscribers.forEach((subscriber) => subscriber.onStateChange("reconnecting"));
      window.setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
    });
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === "snapshot") {
      this.baselines = new Map(message.runs.map((run) => [run.id, Number(run.sequence) || 0]));
      this.lastSeen = new Map();
      const reconnect = this.snapshots > 0;
      this.snapshots += 1;
      this.lastSnapshot = message;
      this.subscribers.forEach((subscriber) => subscriber.snapshot(message, { reconnect }));
    } else if (message.type === "event" && this.isFresh(message)) {
      this.subscribers.forEach((subscriber) => subscriber.event(message));
    }
  }

  isFresh(event) {
    const sequence = Number(event.sequence);
    if (!Number.isFinite(sequence)) return true;
    if (sequence <= (this.baselines.get(event.runId) ?? 0)) return false;
    const key = `${event.runId}|${event.modelName ?? ""}`;
    if (sequence <= (this.lastSeen.get(key) ?? 0)) return false;
    this.lastSeen.set(key, sequence);
    return true;
  }
}

const connections = new Map();

function connectionFor(path) {
  if (!connections.has(path)) connections.set(path, new ProgressConnection(path));
  return connections.get(path);
}

/** One reader of the page's shared connection to `path`. */
export class ProgressSocket {
  /**
   * @param {object} options
   * @param {string} options.path websocket path, e.g. "/ws/progress/"
   * @param {string|null} [options.mediaId] only this media item's runs and events
   * @param {(snapshot: object, info: {reconnect: boolean}) => void} options.onSnapshot
   * @param {(event: object) => void} options.onEvent
   * @param {(state: string, code?: number) => void} [options.onStateChange]
   */
  constructor({ path, mediaId = null, onSnapshot, onEvent, onStateChange = () => {} }) {
    this.path = path;
    this.mediaId = mediaId || null;
    this.onSnapshot = onSnapshot;
    this.onEvent = onEvent;
    this.onStateChange = onStateChange;
  }

  start() {
    connectionFor(this.path).subscribe(this);
    return this;
  }

  snapshot(message, info) {
    if (!this.mediaId) {
      this.onSnapshot(message, info);
      return;
    }
    const runs = message.runs.filter((run) => run.mediaId === this.mediaId);
    this.onSnapshot({ ...message, runs, mediaId: this.mediaId }, info);
  }

  event(message) {
    if (!this.mediaId || message.mediaId === this.mediaId) this.onEvent(message);
  }
}
