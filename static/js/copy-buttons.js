/**
 * "Copy" buttons for a secret or link shown once (an API key, a share link, a webhook secret):
 * `data-copy-target` names the field or element holding it; a `[data-copy-status]` beside the
 * button says what happened, otherwise the button itself does. The buttons stay hidden without
 * scripts, where the text can still be selected and copied by hand.
 */

function copiedText(source) {
  return ("value" in source ? source.value : source.textContent).trim();
}

function setUpCopyButtons() {
  for (const button of document.querySelectorAll("[data-copy-target]")) {
    const source = document.getElementById(button.dataset.copyTarget);
    if (!source) continue;
    const status = button.parentElement.querySelector("[data-copy-status]");
    const say = (text) => {
      if (status) status.textContent = text;
      else button.textContent = text;
    };
    button.hidden = false;
    if ("select" in source) source.addEventListener("focus", () => source.select());
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(copiedText(source));
        say("Copied.");
      } catch {
        if ("select" in source) source.select();
        say("Press Ctrl+C (or ⌘C) to copy.");
      }
    });
  }
}

setUpCopyButtons();
