/**
 * Colour theme: "system" (follow the operating system), "light" or "dark", chosen with the header
 * button and kept in localStorage. A classic script loaded from <head>, so the stored choice is
 * on <html data-theme> before the first paint (no flash of the wrong theme) without inline script,
 * which the Content-Security-Policy forbids. Charts listen for the `themechange` event.
 */
(function () {
  const KEY = "drishtiksha-theme";
  const ORDER = ["system", "light", "dark"];
  const LABELS = { system: "System", light: "Light", dark: "Dark" };
  const root = document.documentElement;

  function read() {
    try {
      const value = window.localStorage.getItem(KEY);
      return ORDER.includes(value) ? value : "system";
    } catch {
      return "system"; // storage blocked: the system setting still applies
    }
  }

  let choice = read();

  function apply(next) {
    choice = next;
    if (next === "system") delete root.dataset.theme;
    else root.dataset.theme = next;
    document.dispatchEvent(new CustomEvent("themechange", { detail: { choice: next } }));
  }

  apply(choice);

  function wire() {
    const button = document.querySelector("[data-theme-toggle]");
    if (!button) return;
    const label = button.querySelector("[data-theme-label]");
    const show = () => {
      label.textContent = LABELS[choice];
      button.dataset.choice = choice;
    };
    button.addEventListener("click", () => {
      const next = ORDER[(ORDER.indexOf(choice) + 1) % ORDER.length];
      try {
        window.localStorage.setItem(KEY, next);
      } catch {
        // Not kept across pages, but this page still switches.
      }
      apply(next);
      show();
    });
    // Another tab changed it.
    window.addEventListener("storage", (event) => {
      if (event.key === KEY) {
        apply(read());
        show();
      }
    });
    show();
    button.hidden = false;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
