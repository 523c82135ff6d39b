/**
 * Upload page: drag and drop, the server's own type and size rules checked before sending, and a
 * real progress bar (XMLHttpRequest upload events) while the file goes to POST /api/v1/media with
 * the session and the CSRF header. On 202 the browser moves to the media page, whose live panel
 * takes over; any error answer shows the envelope's message and field errors.
 *
 * Several files chosen (or dropped) together are a batch: each is listed with its own check, sent
 * in a request of its own to the same endpoint (a few at a time, `batchConcurrency`), and gets its
 * own progress bar and outcome, so one refused file does not stop the others. The page stays put
 * and ends with a summary.
 * Without scripts the form posts to the page itself, which stores the files the same way.
 */

import { announce, readJson } from "./live.js";

const form = document.getElementById("upload-form");
const rules = readJson("upload-rules");
const input = document.getElementById("id_media");
const dropzone = document.getElementById("dropzone");
const selected = document.getElementById("selected-file");
const errorsBox = document.getElementById("upload-errors");
const fileErrors = document.getElementById("media-errors");
const progressBox = document.getElementById("upload-progress");
const bar = document.getElementById("upload-bar");
const barLabel = document.getElementById("upload-bar-label");
const stats = document.getElementById("upload-stats");
const submit = document.getElementById("upload-submit");
const cancel = document.getElementById("upload-cancel");
const queue = document.getElementById("batch-queue");
const summary = document.getElementById("batch-summary");
const MAX_FILES = rules.maxBatchFiles || 1;
const CONCURRENCY = Math.max(1, rules.batchConcurrency || 1);
const UNITS = ["bytes", "KB", "MB", "GB"];
const BYTES_PER_MIB = 1024 * 1024;
// Screen readers hear the progress at these steps, not at every event (several per second).
const ANNOUNCE_EVERY_PERCENT = 25;

function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

function formatSeconds(seconds) {
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function extensionOf(name) {
  const base = name.split(/[\\/]/).pop();
  return base.includes(".") ? base.split(".").pop().toLowerCase() : "";
}

/** The media type (VIDEO, AUDIO, IMAGE) the server would accept the file as, or null. */
function kindOf(file) {
  const extension = extensionOf(file.name);
  const match = Object.entries(rules.formats).find(([, extensions]) => extensions.includes(extension));
  return match ? match[0] : null;
}

function acceptedList() {
  return Object.entries(rules.formats)
    .map(([kind, extensions]) => `${kind.toLowerCase()}: ${extensions.join(", ")}`)
    .join("; ");
}

/** The problems with `file` under the server's rules (an empty list when it may be sent). */
function problemsWith(file) {
  if (!file) return ["Choose a file to upload."];
  const problems = [];
  const extension = extensionOf(file.name);
  if (!kindOf(file)) {
    const shown = extension ? `.${extension}` : "no extension";
    problems.push(`Files with ${shown} are not accepted. Accepted: ${acceptedList()}.`);
  }
  if (file.size === 0) problems.push("The file is empty.");
  if (file.size > rules.maxUploadSize) {
    const limit = rules.maxUploadSize / BYTES_PER_MIB;
    problems.push(`The file is ${formatBytes(file.size)}; the upload limit is ${limit} MiB.`);
  }
  return problems;
}

function showErrors(message, fieldMessages = []) {
  errorsBox.replaceChildren();
  if (message) {
    const paragraph = document.createElement("p");
    paragraph.textContent = message;
    errorsBox.append(paragraph);
  }
  const list = document.createElement("ul");
  list.className = "errorlist";
  fieldMessages.forEach(({ field, message: text }) => {
    const item = document.createElement("li");
    item.textContent = field ? `${field}: ${text}` : text;
    list.append(item);
  });
  if (fieldMessages.length) errorsBox.append(list);
  errorsBox.hidden = !message && !fieldMessages.length;
  if (!errorsBox.hidden) errorsBox.focus?.();
}

function showFileProblems(problems) {
  fileErrors.replaceChildren(
    ...problems.map((problem) => {
      const item = document.createElement("li");
      item.textContent = problem;
      return item;
    }),
  );
  fileErrors.hidden = problems.length === 0;
  input.setAttribute("aria-invalid", problems.length ? "true" : "false");
  const described = ["media-rules", ...(problems.length ? ["media-errors"] : [])];
  input.setAttribute("aria-describedby", described.join(" "));
}

/** Show only the models that can analyse one of these kinds of file; untick the others. */
function filterModels(kinds) {
  const wanted = kinds.filter(Boolean);
  document.querySelectorAll("[data-model-choice] li[data-model]").forEach((item) => {
    const fitsKind = (kind) =>
      (kind === "VIDEO" && (item.dataset.video === "1" || item.dataset.multimodal === "1")) ||
      (kind === "AUDIO" && item.dataset.audio === "1") ||
      (kind === "IMAGE" && item.dataset.image === "1");
    const fits = !wanted.length || wanted.some(fitsKind);
    item.hidden = !fits;
    if (!fits) item.querySelector("input").checked = false;
  });
}

// The files chosen, in order; the input mirrors it so that a form post without scripts agrees.
let chosen = [];

function syncInput() {
  const transfer = new DataTransfer();
  chosen.forEach((file) => transfer.items.add(file));
  input.files = transfer.files;
}

function tooManyMessage() {
  return `At most ${MAX_FILES} files can be uploaded at once; remove ${chosen.length - MAX_FILES}.`;
}

function removeFile(index) {
  chosen.splice(index, 1);
  syncInput();
  render();
  const buttons = queue.querySelectorAll("button[data-remove]");
  (buttons[Math.min(index, buttons.length - 1)] || input).focus();
}

function queueRow(file, index) {
  const row = document.createElement("li");
  row.className = "batch-row";
  const problems = problemsWith(file);
  row.dataset.state = problems.length ? "invalid" : "ready";
  const name = document.createElement("span");
  name.className = "batch-name";
  name.textContent = file.name;
  const meta = document.createElement("span");
  meta.className = "batch-meta";
  const kind = kindOf(file);
  meta.textContent = `${formatBytes(file.size)}${kind ? ` · ${kind.toLowerCase()}` : ""}`;
  const outcome = document.createElement("span");
  outcome.className = "batch-outcome";
  outcome.textContent = problems.length ? `Cannot be sent: ${problems.join(" ")}` : "Ready";
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "button button-small";
  remove.dataset.remove = "";
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", `Remove ${file.name}`);
  remove.addEventListener("click", () => removeFile(index));
  const bar = document.createElement("progress");
  bar.className = "batch-bar";
  bar.max = 100;
  bar.value = 0;
  bar.hidden = true;
  bar.setAttribute("aria-label", `Upload of ${file.name}`);
  row.append(name, meta, outcome, remove, bar);
  return row;
}

function render() {
  summary.hidden = true;
  summary.replaceChildren();
  if (chosen.length <= 1) {
    queue.hidden = true;
    queue.replaceChildren();
    const file = chosen[0];
    if (!file) {
      selected.textContent = "";
      filterModels([]);
      return;
    }
    const kind = kindOf(file);
    selected.textContent = `${file.name} · ${formatBytes(file.size)}${kind ? ` · ${kind.toLowerCase()}` : ""}`;
    showFileProblems(problemsWith(file));
    filterModels([kind]);
    return;
  }
  const total = chosen.reduce((sum, file) => sum + file.size, 0);
  selected.textContent = `${chosen.length} files · ${formatBytes(total)}`;
  showFileProblems(chosen.length > MAX_FILES ? [tooManyMessage()] : []);
  queue.replaceChildren(...chosen.map(queueRow));
  queue.hidden = false;
  filterModels(chosen.map(kindOf));
}

input.addEventListener("change", () => {
  chosen = Array.from(input.files);
  render();
});

["dragenter", "dragover"].forEach((type) =>
  dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    dropzone.classList.add("is-dragging");
  }),
);
["dragleave", "dragend"].forEach((type) =>
  dropzone.addEventListener(type, () => dropzone.classList.remove("is-dragging")),
);
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropzone.classList.remove("is-dragging");
  if (!event.dataTransfer?.files.length) return;
  chosen = Array.from(event.dataTransfer.files);
  syncInput();
  render();
});

function setBusy(busy) {
  form.setAttribute("aria-busy", busy ? "true" : "false");
  submit.disabled = busy;
  cancel.hidden = !busy;
  form.querySelectorAll("input, textarea").forEach((element) => {
    element.disabled = busy;
  });
}

function envelopeOf(request) {
  try {
    return JSON.parse(request.responseText);
  } catch {
    return null;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (chosen.length > 1) {
    uploadBatch();
    return;
  }
  const file = input.files[0];
  const problems = problemsWith(file);
  showFileProblems(problems);
  if (problems.length) {
    showErrors("The file cannot be uploaded.");
    input.focus();
    return;
  }
  showErrors("");

  const data = new FormData(form);
  const csrfToken = data.get("csrfmiddlewaretoken");
  // The API refuses fields it does not know; the token travels as a header instead.
  data.delete("csrfmiddlewaretoken");
  const request = new XMLHttpRequest();
  const started = performance.now();
  request.open("POST", form.dataset.apiUrl);
  request.setRequestHeader("X-CSRFToken", csrfToken);
  request.setRequestHeader("Accept", "application/json");

  progressBox.hidden = false;
  barLabel.textContent = `Uploading ${file.name}`;
  bar.value = 0;
  stats.textContent = "Starting…";
  let announced = 0;

  request.upload.addEventListener("progress", (progress) => {
    if (!progress.lengthComputable) return;
    const percentDone = Math.floor((progress.loaded / progress.total) * 100);
    const elapsed = (performance.now() - started) / 1000;
    const speed = elapsed > 0 ? progress.loaded / elapsed : 0;
    const left = speed > 0 ? (progress.total - progress.loaded) / speed : NaN;
    bar.value = percentDone;
    const step = Math.floor(percentDone / ANNOUNCE_EVERY_PERCENT) * ANNOUNCE_EVERY_PERCENT;
    if (step > announced && step < 100) {
      announced = step;
      announce(`${step} % uploaded`);
    }
    const parts = [
      `${percentDone} %`,
      `${formatBytes(progress.loaded)} of ${formatBytes(progress.total)}`,
    ];
    if (speed > 0) parts.push(`${formatBytes(Math.round(speed))}/s`);
    if (progress.loaded < progress.total && Number.isFinite(left)) parts.push(`about ${formatSeconds(left)} left`);
    stats.textContent = parts.join(" · ");
  });
  request.upload.addEventListener("load", () => {
    bar.value = 100;
    stats.textContent = `100 % · ${formatBytes(file.size)} sent. Checking the file…`;
  });
  request.addEventListener("load", () => {
    const envelope = envelopeOf(request);
    if (request.status === 202 && envelope?.data?.id) {
      announce("Upload complete. Opening the live analysis.");
      barLabel.textContent = "Upload complete";
      stats.textContent = "Upload complete. Opening the live analysis…";
      window.location.assign(form.dataset.mediaUrl.replace(form.dataset.mediaUrlPlaceholder, envelope.data.id));
      return;
    }
    setBusy(false);
    progressBox.hidden = true;
    const message = envelope?.message || `The upload failed (HTTP ${request.status}).`;
    const fieldErrors = Array.isArray(envelope?.errors) ? envelope.errors : [];
    showErrors(message, fieldErrors);
    showFileProblems(fieldErrors.filter((error) => error.field === "media").map((error) => error.message));
  });
  request.addEventListener("error", () => {
    setBusy(false);
    progressBox.hidden = true;
    showErrors("The connection was lost during the upload. Check your network and try again.");
  });
  request.addEventListener("abort", () => {
    setBusy(false);
    progressBox.hidden = true;
    showErrors("Upload cancelled.");
  });
  cancel.onclick = () => request.abort();

  request.send(data);
  setBusy(true);
  cancel.focus();
});

// --- Several files: one request each, a few at a time ---------------------------------------------

function setRowState(row, state, text) {
  row.dataset.state = state;
  row.querySelector(".batch-outcome").textContent = text;
}

function errorText(request, envelope) {
  const message = envelope?.message || `The upload failed (HTTP ${request.status}).`;
  const details = (Array.isArray(envelope?.errors) ? envelope.errors : [])
    .map((error) => error.message)
    .filter((text) => text && text !== message);
  return [message, ...details].join(" ");
}

/** Send one file of the batch; resolves with whether it was stored. */
function sendBatchFile(file, row, base, csrfToken, requests) {
  return new Promise((resolve) => {
    const data = new FormData();
    base.forEach((value, key) => data.append(key, value));
    data.append("media", file, file.name);
    const request = new XMLHttpRequest();
    requests.add(request);
    const bar = row.querySelector(".batch-bar");
    bar.hidden = false;
    setRowState(row, "uploading", "Starting…");
    request.open("POST", form.dataset.apiUrl);
    request.setRequestHeader("X-CSRFToken", csrfToken);
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (progress) => {
      if (!progress.lengthComputable) return;
      const percentDone = Math.floor((progress.loaded / progress.total) * 100);
      bar.value = percentDone;
      setRowState(
        row,
        "uploading",
        `${percentDone} % · ${formatBytes(progress.loaded)} of ${formatBytes(progress.total)}`,
      );
    });
    request.upload.addEventListener("load", () => {
      bar.value = 100;
      setRowState(row, "uploading", `100 % · ${formatBytes(file.size)} sent. Checking the file…`);
    });
    const done = (stored) => {
      requests.delete(request);
      resolve(stored);
    };
    request.addEventListener("load", () => {
      const envelope = envelopeOf(request);
      const media = envelope?.data;
      if (request.status === 202 && media?.id) {
        const note = media.duplicateOf ? " (an earlier upload has the same content)" : "";
        setRowState(row, "done", `Uploaded${note} · `);
        const link = document.createElement("a");
        link.href = form.dataset.mediaUrl.replace(form.dataset.mediaUrlPlaceholder, media.id);
        link.textContent = `Open ${file.name}`;
        row.querySelector(".batch-outcome").append(link);
        done(true);
        return;
      }
      bar.hidden = true;
      setRowState(row, "failed", `Not uploaded: ${errorText(request, envelope)}`);
      done(false);
    });
    request.addEventListener("error", () => {
      bar.hidden = true;
      setRowState(row, "failed", "Not uploaded: the connection was lost.");
      done(false);
    });
    request.addEventListener("abort", () => {
      bar.hidden = true;
      setRowState(row, "failed", "Not uploaded: cancelled.");
      done(false);
    });
    request.send(data);
  });
}

function showSummary(uploaded, total) {
  const text = document.createElement("p");
  text.textContent = `${uploaded} of ${total} uploaded.`;
  const link = document.createElement("a");
  link.href = form.dataset.dashboardUrl;
  link.textContent = "Go to the dashboard";
  summary.replaceChildren(text, link);
  // A status region: screen readers hear the summary as it appears.
  summary.hidden = false;
}

async function uploadBatch() {
  if (chosen.length > MAX_FILES) {
    showErrors(tooManyMessage());
    input.focus();
    return;
  }
  showErrors("");
  progressBox.hidden = true;
  const base = new FormData(form);
  const csrfToken = base.get("csrfmiddlewaretoken");
  // The API refuses fields it does not know; the token travels as a header instead.
  base.delete("csrfmiddlewaretoken");
  base.delete("media");
  const rows = Array.from(queue.querySelectorAll(".batch-row"));
  const files = chosen.slice();
  const waiting = [];
  files.forEach((file, index) => {
    const row = rows[index];
    const problems = problemsWith(file);
    row.querySelector("button[data-remove]")?.remove();
    if (problems.length) {
      setRowState(row, "failed", `Not uploaded: ${problems.join(" ")}`);
    } else {
      waiting.push([file, row]);
    }
  });
  // The rows now record this batch; the next choice of files starts a new one.
  chosen = [];
  syncInput();

  const requests = new Set();
  let cancelled = false;
  let uploaded = 0;
  cancel.onclick = () => {
    cancelled = true;
    requests.forEach((request) => request.abort());
  };
  setBusy(true);
  cancel.focus();
  const worker = async () => {
    while (waiting.length) {
      const [file, row] = waiting.shift();
      if (cancelled) {
        setRowState(row, "failed", "Not uploaded: cancelled.");
        continue;
      }
      if (await sendBatchFile(file, row, base, csrfToken, requests)) uploaded += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, waiting.length) }, worker));
  setBusy(false);
  selected.textContent = "";
  showSummary(uploaded, files.length);
}
