// The monitoring page's kept figures: keeps each "… ago" up to date while the page stays open, and
// loads the server and queue parts checked now (an HTML fragment from the button's
// data-figures-url) when "Check now" is pressed or when the page says the kept ones are stale.
(function () {
  "use strict";

  const PARTS = ["monitor-server-figures", "monitor-queue-figures"];
  const MINUTE = 60;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;
  // When each <time data-age> was rendered, by this page's clock: the server's clock decides the
  // age, so that a browser whose clock is off still reads the right one.
  const rendered = new WeakMap();

  function words(seconds) {
    if (seconds < MINUTE) return seconds + " s ago";
    if (seconds < HOUR) return Math.floor(seconds / MINUTE) + " min ago";
    if (seconds < DAY) return Math.floor(seconds / HOUR) + " h ago";
    return Math.floor(seconds / DAY) + " d ago";
  }

  function tick() {
    const now = performance.now();
    document.querySelectorAll("time.monitor-age[data-age]").forEach((element) => {
      if (!rendered.has(element)) {
        rendered.set(element, { age: Number(element.dataset.age), at: now });
      }
      const base = rendered.get(element);
      element.textContent = words(Math.floor(base.age + (now - base.at) / 1000));
    });
  }

  tick();
  window.setInterval(tick, 1000);

  const button = document.getElementById("monitor-check-now");
  if (!button) {
    return;
  }
  const label = button.textContent;

  async function checkNow() {
    button.disabled = true;
    button.textContent = "Checking…";
    try {
      const response = await fetch(button.dataset.figuresUrl, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      const fragment = new DOMParser().parseFromString(await response.text(), "text/html");
      PARTS.forEach((id) => {
        const fresh = fragment.getElementById(id);
        const current = document.getElementById(id);
        if (fresh && current) {
          current.replaceWith(document.importNode(fresh, true));
        }
      });
      tick();
      button.textContent = label;
    } catch (error) {
      button.textContent = "Check failed (" + error.message + "), try again";
    } finally {
      button.disabled = false;
    }
  }

  button.hidden = false;
  button.addEventListener("click", checkNow);
  if (document.querySelector("#monitor-server-figures[data-stale]")) {
    checkNow();
  }
})();
