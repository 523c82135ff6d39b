/**
 * Run report: every video model's frame scores on one 0-100 % timeline, confidence per model
 * (coloured by prediction) and processing time per model. The data comes prepared by the server
 * (media_analysis/chart_data.py) in the `run-chart-data` JSON script.
 */

import {
  DASHES,
  PALETTE,
  applyChartDefaults,
  cssColor,
  percentTick,
  seekOnClick,
  timecode,
} from "./chart-theme.js";
import { readJson } from "./live.js";

const { Chart } = window;
const data = readJson("run-chart-data");
// Point markers help on short series and only clutter long ones.
const MARKER_MAX_POINTS = 60;
const DECISION_LINE = 50;
// Model names longer than this are split at their hyphens into lines on the bar charts' axes,
// which would otherwise cut them off at the chart's left edge.
const LABEL_LINE_CHARS = 18;

function modelLabel(name) {
  if (name.length <= LABEL_LINE_CHARS) return name;
  const lines = [""];
  name.split(/(?<=-)/).forEach((part) => {
    const last = lines.length - 1;
    if (lines[last] && lines[last].length + part.length > LABEL_LINE_CHARS) lines.push(part);
    else lines[last] += part;
  });
  return lines;
}

applyChartDefaults(Chart);

function timelineChart(canvas) {
  // Points come as a position in the media (0-100 %); with the media's duration they are placed
  // in time instead, and a click opens the media page's player there.
  const { duration } = data;
  const end = duration ?? 100;
  const place = (x) => (duration ? (x / 100) * duration : x);
  const datasets = data.timeline.map((series, index) => ({
    label: series.model,
    data: series.points.map((point) => ({ x: place(point.x), y: point.y })),
    borderColor: PALETTE[index % PALETTE.length],
    backgroundColor: PALETTE[index % PALETTE.length],
    borderDash: DASHES[Math.floor(index / PALETTE.length) % DASHES.length],
    borderWidth: 2,
    pointRadius: series.points.length > MARKER_MAX_POINTS ? 0 : 2,
    tension: 0.2,
  }));
  const modelSeries = datasets.length;
  datasets.push({
    label: "50 % line",
    data: [
      { x: 0, y: DECISION_LINE },
      { x: end, y: DECISION_LINE },
    ],
    borderColor: cssColor("--fake"),
    borderDash: [4, 4],
    borderWidth: 1,
    pointRadius: 0,
  });
  const where = (x) => (duration ? timecode(x, { tenths: duration < 60 }) : `${x.toFixed(1)} %`);
  return new Chart(canvas, {
    type: "line",
    data: { datasets },
    options: {
      interaction: { mode: "nearest", intersect: false },
      ...(duration ? seekOnClick(canvas, { seriesCount: modelSeries }) : {}),
      scales: {
        x: {
          type: "linear",
          min: 0,
          max: end,
          title: {
            display: true,
            text: duration ? "Time in the media (m:ss)" : "Position in the media (no timing known)",
          },
          ticks: {
            callback: duration ? (value) => timecode(value, { tenths: duration < 60 }) : percentTick,
          },
        },
        y: {
          min: 0,
          max: 100,
          title: { display: true, text: "Fake probability" },
          ticks: { callback: percentTick },
        },
      },
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: {
            label: (item) =>
              `${item.dataset.label}: ${item.parsed.y.toFixed(1)} % at ${where(item.parsed.x)}`,
          },
        },
      },
    },
  });
}

function confidenceChart(canvas) {
  const models = data.confidence.map((entry) => entry.model);
  const series = (prediction) =>
    data.confidence.map((entry) => (entry.prediction === prediction ? entry.confidence : null));
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels: models.map(modelLabel),
      datasets: [
        { label: "Predicted fake", data: series("FAKE"), backgroundColor: cssColor("--fake") },
        { label: "Predicted real", data: series("REAL"), backgroundColor: cssColor("--real") },
      ],
    },
    options: {
      indexAxis: "y",
      skipNull: true,
      scales: {
        x: { min: 0, max: 100, stacked: true, ticks: { callback: percentTick } },
        y: { stacked: true },
      },
      plugins: { legend: { position: "bottom" } },
    },
  });
}

function timeChart(canvas) {
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.processingTime.map((entry) => modelLabel(entry.model)),
      datasets: [
        {
          label: "Seconds",
          data: data.processingTime.map((entry) => entry.seconds),
          backgroundColor: data.processingTime.map((entry) =>
            entry.failed ? cssColor("--muted") : cssColor("--neutral"),
          ),
        },
      ],
    },
    options: {
      indexAxis: "y",
      scales: { x: { beginAtZero: true, title: { display: true, text: "Seconds" } } },
      plugins: { legend: { display: false } },
    },
  });
}

const charts = [
  ["timeline-chart", timelineChart],
  ["confidence-chart", confidenceChart],
  ["time-chart", timeChart],
];
charts.forEach(([id, draw]) => {
  const canvas = document.getElementById(id);
  if (canvas) draw(canvas);
});
