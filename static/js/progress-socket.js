/**
 * Client of the progress websocket (/ws/progress/), shared by the dashboard and the media page.
 *
 * The stream is lossy by design. Every (re)connection starts with a snapshot, which is the truth;
 * events then arrive in any order across models, so one is applied only when its `sequence` is
 * newer than the snapshot's for its run and than the last event seen for its run and model.
 * Reconnects back off exponentially; the close codes listed below mean retrying cannot help.
 */

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;
// 4401 not logged in, 4403 account inactive, 4404 media not found (media_analysis/consumers.py).
const FINAL_CLOSE_CODES = new Set([4401, 4403, 4404]);

export class ProgressSocket {
  /**
   * @param {object} options
   * @param {string} options.path websocket path, e.g. "/ws/progress/"
   * @param {string|null} [options.mediaId] narrow the stream to this media item
   * @param {(snapshot: object, info: {reconnect: boolean}) => void} options.onSnapshot
   * @param {(event: object) => void} options.onEvent
   * @param {(state: string, code?: number) => void} [options.onStateChange]
   */
  constructor({ path, mediaId = null, onSnapshot, onEvent, onStateChange = () => {} }) {
    this.path = path;
    this.mediaId = mediaId;
    this.onSnapshot = onSnapshot;
    this.onEvent = onEvent;
    this.onStateChange = onStateChange;
    this.delay = RECONNECT_MIN_MS;
    this.snapshots = 0;
    this.baselines = new Map();
    this.lastSeen = new Map();
    this.stopped = false;
  }

  start() {
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
    return this;
  }

  connect() {
    const url = new URL(this.path, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    if (this.mediaId) url.searchParams.set("media", this.mediaId);
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = RECONNECT_MIN_MS;
      this.onStateChange("open");
    });
    socket.addEventListener("message", (message) => this.receive(message.data));
    socket.addEventListener("close", (event) => {
      if (this.stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.onStateChange("refused", event.code);
        return;
      }
      this.onStateChange("reconnecting");
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
      this.onSnapshot(message, { reconnect });
    } else if (message.type === "event" && this.isFresh(message)) {
      this.onEvent(message);
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
