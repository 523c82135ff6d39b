/**
 * Chart colours from the stylesheet's variables, so charts follow light and dark mode, and
 * Chart.js defaults shared by the report pages (Chart.js itself is the vendored UMD build).
 */

// Ten colours that stay apart for the common kinds of colour blindness (Tableau 10).
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#76b7b2",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];
export const DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3]];

export function cssColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function setColors(Chart) {
  Chart.defaults.color = cssColor("--muted");
  Chart.defaults.borderColor = cssColor("--border");
}

/** Shared defaults; text and grid colours follow the system when it switches light/dark. */
export function applyChartDefaults(Chart) {
  setColors(Chart);
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;
  if (window.matchMedia("(prefers-reduced-motion: reduce)").matches) {
    Chart.defaults.animation = false;
  }
  const retheme = () => {
    setColors(Chart);
    Object.values(Chart.instances).forEach((chart) => {
      // Options already resolved from the defaults keep their old values: set them again.
      chart.options.color = Chart.defaults.color;
      chart.options.borderColor = Chart.defaults.borderColor;
      Object.values(chart.options.scales ?? {}).forEach((scale) => {
        scale.grid.color = Chart.defaults.borderColor;
        scale.border.color = Chart.defaults.borderColor;
        scale.ticks.color = Chart.defaults.color;
        if (scale.title) scale.title.color = Chart.defaults.color;
      });
      chart.update("none");
    });
  };
  // The system switching light/dark, or the header toggle (static/js/theme.js) choosing one.
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", retheme);
  document.addEventListener("themechange", retheme);
}

/** mm:ss (or h:mm:ss), with tenths when `tenths`: 75.25 -> "1:15.3". */
export function timecode(seconds, { tenths = false } = {}) {
  const value = Math.max(Number(seconds) || 0, 0);
  const whole = tenths ? Math.round(value * 10) / 10 : Math.round(value);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  const secondsText = tenths ? rest.toFixed(1).padStart(4, "0") : String(Math.floor(rest)).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secondsText}` : `${minutes}:${secondsText}`;
}

/** A score 0-1 as a colour from green (authentic) through yellow to red (fake). */
export function scoreColor(score, alpha = 1) {
  const value = Math.min(Math.max(Number(score) || 0, 0), 1);
  const hue = 120 * (1 - value);
  return `hsl(${hue} 75% 45% / ${alpha})`;
}

/** A share 0-1 of a dark-blue-to-yellow scale (for spectrograms: brighter is louder). */
export function intensityColor(share) {
  const value = Math.min(Math.max(share, 0), 1);
  const hue = 250 - 190 * value;
  const lightness = 12 + 58 * value;
  return [hue, lightness];
}

export function percentTick(value) {
  return `${value} %`;
}

/**
 * Chart.js options that open the media page's player at the clicked point's time (its x, in
 * seconds): `<canvas data-seek-url="/media/<id>/">` navigates to `/media/<id>/?t=<s>#player`.
 * Only the first `seriesCount` datasets are media series (others are guide lines).
 */
export function seekOnClick(canvas, { seriesCount = Infinity } = {}) {
  const url = canvas.dataset.seekUrl;
  if (!url) return {};
  const pick = (elements) => elements.find((element) => element.datasetIndex < seriesCount);
  return {
    onHover: (event, elements) => {
      canvas.style.cursor = pick(elements) ? "pointer" : "default";
    },
    onClick: (event, elements, chart) => {
      const element = pick(elements);
      if (!element) return;
      const seconds = chart.data.datasets[element.datasetIndex].data[element.index].x;
      window.location.assign(`${url}?t=${Math.max(seconds, 0).toFixed(2)}#player`);
    },
  };
}
