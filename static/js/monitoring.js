// Charts of the monitoring page. Every figure is also printed in the page itself; these only draw
// the data the server embedded as JSON (#monitoring-chart-data) with the vendored Chart.js.
(function () {
  "use strict";

  const source = document.getElementById("monitoring-chart-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const style = getComputedStyle(document.documentElement);
  const color = (name) => style.getPropertyValue(name).trim();
  const statusColors = {
    HEALTHY: color("--success"),
    DEGRADED: color("--focus"),
    UNHEALTHY: color("--danger"),
    UNKNOWN: color("--muted"),
  };
  const verdictColors = {
    FAKE: color("--danger"),
    REAL: color("--success"),
    INCONCLUSIVE: color("--focus"),
  };
  Chart.defaults.color = color("--muted");
  Chart.defaults.borderColor = color("--border");
  Chart.defaults.maintainAspectRatio = false;

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, config);
    }
  }

  const history = data.history;
  draw("health-chart", {
    type: "line",
    data: {
      labels: history.map((point) => new Date(point.checkedAt).toLocaleTimeString()),
      datasets: [
        {
          label: "Response time (ms)",
          data: history.map((point) => point.responseTimeMs),
          borderColor: color("--border"),
          pointBackgroundColor: history.map((point) => statusColors[point.status]),
          pointBorderColor: history.map((point) => statusColors[point.status]),
          pointRadius: 4,
        },
      ],
    },
    options: {
      scales: { y: { beginAtZero: true, title: { display: true, text: "ms" } } },
      plugins: {
        tooltip: {
          callbacks: { afterLabel: (item) => history[item.dataIndex].status },
        },
      },
    },
  });

  const analytics = data.analytics;
  draw("uploads-chart", {
    type: "bar",
    data: {
      labels: analytics.uploadsPerDay.map((day) => day.day),
      datasets: [
        { label: "Uploads per day", data: analytics.uploadsPerDay.map((day) => day.count), backgroundColor: color("--accent") },
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });

  draw("verdicts-chart", {
    type: "doughnut",
    data: {
      labels: analytics.verdicts.map((verdict) => verdict.label),
      datasets: [
        {
          label: "Latest runs",
          data: analytics.verdicts.map((verdict) => verdict.count),
          backgroundColor: analytics.verdicts.map((verdict) => verdictColors[verdict.verdict] || color("--border")),
        },
      ],
    },
  });

  draw("models-chart", {
    type: "bar",
    data: {
      labels: analytics.models.map((model) => model.modelName),
      datasets: [
        { label: "Mean processing time (s)", data: analytics.models.map((model) => model.processingTimeAvg), backgroundColor: color("--accent") },
        { label: "95th percentile (s)", data: analytics.models.map((model) => model.processingTimeP95), backgroundColor: color("--focus") },
      ],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: "seconds" } } } },
  });
})();
