/**
 * Model report: for video the frame scores with their rolling mean, a heat strip and a histogram;
 * for audio the spectrogram (or the per-chunk scores some models send instead); for images the
 * heatmap over the picture. Data prepared by media_analysis/chart_data.py.
 */

import {
  applyChartDefaults,
  cssColor,
  intensityColor,
  percentTick,
  scoreColor,
  seekOnClick,
  timecode,
} from "./chart-theme.js";
import { readJson } from "./live.js";

const { Chart } = window;
const data = readJson("analysis-chart-data");
const MARKER_MAX_POINTS = 60;

applyChartDefaults(Chart);

function framesChart(video) {
  const canvas = document.getElementById("frames-chart");
  if (!canvas) return;
  // With the media's duration every point carries its time `t` (s): the axis shows timecodes
  // and a click opens the media page's player there. Without it, the model's own indices.
  const timed = Boolean(video.duration) && video.frames.every((point) => "t" in point);
  const series = (points) => (timed ? points.map((point) => ({ x: point.t, y: point.y })) : points);
  const frames = series(video.frames);
  new Chart(canvas, {
    type: "line",
    data: {
      datasets: [
        {
          label: "Frame score",
          data: frames,
          borderColor: cssColor("--neutral"),
          backgroundColor: `${cssColor("--neutral")}33`,
          fill: "origin",
          borderWidth: 1.5,
          pointRadius: frames.length > MARKER_MAX_POINTS ? 0 : 2,
        },
        {
          label: "Rolling mean",
          data: series(video.rollingMean),
          borderColor: cssColor("--fake"),
          borderWidth: 2,
          pointRadius: 0,
          tension: 0.3,
        },
      ],
    },
    options: {
      interaction: { mode: "nearest", intersect: false },
      ...(timed ? seekOnClick(canvas) : {}),
      scales: {
        x: timed
          ? {
              type: "linear",
              min: 0,
              max: video.duration,
              title: { display: true, text: "Time in the media (m:ss)" },
              ticks: { callback: (value) => timecode(value, { tenths: video.duration < 60 }) },
            }
          : { type: "linear", title: { display: true, text: "Frame or window index (no timing known)" } },
        y: { min: 0, max: 100, title: { display: true, text: "Fake probability" }, ticks: { callback: percentTick } },
      },
      plugins: {
        legend: { position: "bottom" },
        tooltip: timed
          ? { callbacks: { title: (items) => timecode(items[0].parsed.x, { tenths: true }) } }
          : {},
      },
    },
  });
}

function heatStrip(scores) {
  const canvas = document.getElementById("heat-strip");
  if (!canvas || !scores.length) return;
  canvas.width = scores.length;
  canvas.height = 1;
  const context = canvas.getContext("2d");
  scores.forEach((score, index) => {
    context.fillStyle = scoreColor(score);
    context.fillRect(index, 0, 1, 1);
  });
}

function histogramChart(histogram) {
  const canvas = document.getElementById("histogram-chart");
  if (!canvas) return;
  const bins = histogram.counts.length;
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: histogram.labels,
      datasets: [
        {
          label: "Frames",
          data: histogram.counts,
          backgroundColor: histogram.counts.map((_, index) => scoreColor((index + 0.5) / bins)),
        },
      ],
    },
    options: {
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { display: false } },
    },
  });
}

/** Paint a matrix into a canvas, one pixel per cell, row 0 at the bottom when `flip`. */
function paintMatrix(canvas, matrix, colorOf, { flip }) {
  const height = matrix.rows.length;
  const width = Math.max(...matrix.rows.map((row) => row.length));
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  const span = matrix.max - matrix.min || 1;
  matrix.rows.forEach((row, rowIndex) => {
    const y = flip ? height - 1 - rowIndex : rowIndex;
    row.forEach((cell, column) => {
      if (cell === null) return;
      const [r, g, b, a] = colorOf((cell - matrix.min) / span, cell);
      const offset = (y * width + column) * 4;
      image.data[offset] = r;
      image.data[offset + 1] = g;
      image.data[offset + 2] = b;
      image.data[offset + 3] = a;
    });
  });
  context.putImageData(image, 0, 0);
}

function hslToRgb(hue, saturation, lightness) {
  const s = saturation / 100;
  const l = lightness / 100;
  const k = (n) => (n + hue / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(255 * f(0)), Math.round(255 * f(8)), Math.round(255 * f(4))];
}

// Tick steps tried in order: the first giving at most `most` ticks over the span is used.
const NICE_STEPS = [0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1800, 3600];

function niceStep(span, most) {
  return NICE_STEPS.find((step) => span / step <= most) ?? span;
}

/** Tick labels along one side of the spectrogram, at their share of the span (CSS positions). */
function axisTicks(box, { span, most, format, vertical }) {
  if (!box || !(span > 0)) return;
  const step = niceStep(span, most);
  const labels = [];
  for (let value = 0; value <= span + step / 1000; value += step) {
    const tick = document.createElement("span");
    tick.className = "axis-tick";
    tick.textContent = format(value);
    const share = `${Math.min((value / span) * 100, 100)}%`;
    if (vertical) tick.style.bottom = share;
    else tick.style.left = share;
    labels.push(tick);
  }
  box.replaceChildren(...labels);
}

function trimmed(value, decimals) {
  return String(Number(value.toFixed(decimals)));
}

function spectrogramAxes(spectrum) {
  const columns = Math.max(...spectrum.rows.map((row) => row.length));
  const rows = spectrum.rows.length;
  const inKhz = spectrum.maxHz >= 1000;
  axisTicks(document.querySelector('[data-axis="y"]'), spectrum.maxHz
    ? { span: spectrum.maxHz / (inKhz ? 1000 : 1), most: 6, format: (v) => trimmed(v, 2), vertical: true }
    : { span: rows, most: 6, format: (v) => trimmed(v, 0), vertical: true });
  axisTicks(document.querySelector('[data-axis="x"]'), spectrum.seconds
    ? { span: spectrum.seconds, most: 8, format: (v) => trimmed(v, 2), vertical: false }
    : { span: columns, most: 8, format: (v) => trimmed(v, 0), vertical: false });
}

function spectrogram(spectrum) {
  if (spectrum.kind === "matrix") {
    const canvas = document.getElementById("spectrogram");
    spectrogramAxes(spectrum);
    paintMatrix(
      canvas,
      spectrum,
      (share) => {
        const [hue, lightness] = intensityColor(share);
        return [...hslToRgb(hue, 80, lightness), 255];
      },
      { flip: true },
    );
    return;
  }
  const canvas = document.getElementById("spectrogram-series");
  if (!canvas) return;
  new Chart(canvas, {
    type: "line",
    data: {
      labels: spectrum.values.map((_, index) => index + 1),
      datasets: [{ label: "Score per chunk", data: spectrum.values, borderColor: cssColor("--neutral"), pointRadius: 1 }],
    },
    options: {
      scales: { x: { title: { display: true, text: "Audio chunk" } } },
      plugins: { legend: { display: false } },
    },
  });
}

function imageHeatmap(heatmap) {
  const canvas = document.getElementById("heatmap-canvas");
  const slider = document.getElementById("heatmap-opacity");
  if (!canvas) return;
  // Scores are probabilities; only a map outside 0-1 is stretched to its own range.
  const withinUnit = heatmap.min >= 0 && heatmap.max <= 1;
  const shareOf = (share, cell) => (withinUnit ? cell : share);
  paintMatrix(
    canvas,
    heatmap,
    (share, cell) => {
      const [r, g, b] = hslToRgb(0, 85, 50);
      return [r, g, b, Math.round(255 * shareOf(share, cell))];
    },
    { flip: false },
  );
  const applyOpacity = () => {
    canvas.style.opacity = String(Number(slider.value) / 100);
  };
  slider.addEventListener("input", applyOpacity);
  applyOpacity();
}

if (data.kind === "VIDEO" && data.video) {
  framesChart(data.video);
  heatStrip(data.video.heatStrip);
  histogramChart(data.video.histogram);
} else if (data.kind === "AUDIO" && data.spectrogram) {
  spectrogram(data.spectrogram);
} else if (data.kind === "IMAGE" && data.heatmap) {
  imageHeatmap(data.heatmap);
}
