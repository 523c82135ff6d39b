/**
 * A wide table in a `.table-wrap` scrolls sideways on a narrow screen; this marks the wrapper
 * (`data-overflows`, which draws an edge shadow) and shows a "Scroll sideways" hint under it only
 * while its table is wider than the wrapper. Tables replaced by live updates are picked up too.
 */
(function () {
  const HINT = "Scroll sideways for more →";
  const watched = new WeakSet();

  function update(wrap) {
    const overflows = wrap.scrollWidth > wrap.clientWidth + 1;
    wrap.toggleAttribute("data-overflows", overflows);
    let hint = wrap.nextElementSibling;
    if (!hint || !hint.classList.contains("scroll-hint")) {
      if (!overflows) return;
      hint = document.createElement("p");
      hint.className = "scroll-hint";
      hint.textContent = HINT;
      wrap.after(hint);
    }
    hint.hidden = !overflows;
  }

  const resized = new ResizeObserver((entries) =>
    entries.forEach((entry) => update(entry.target.closest(".table-wrap"))),
  );

  function watchAll() {
    document.querySelectorAll(".table-wrap").forEach((wrap) => {
      if (watched.has(wrap)) return;
      watched.add(wrap);
      resized.observe(wrap);
      const table = wrap.querySelector("table");
      if (table) resized.observe(table);
      update(wrap);
    });
  }

  function start() {
    watchAll();
    new MutationObserver(watchAll).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
