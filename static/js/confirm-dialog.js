/**
 * Ask before sending a form marked `data-confirm` (deleting media), in the page's native
 * <dialog id="confirm-dialog">. Escape and Cancel close it and give focus back to the button that
 * opened it. Confirming adds `confirmed=yes`, which the server requires; without scripts the form
 * lands on a confirmation page instead.
 */

export function setUpConfirmDialogs() {
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const message = dialog.querySelector("#confirm-dialog-message");
  let pendingForm = null;
  let opener = null;

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    event.preventDefault();
    pendingForm = form;
    opener = event.submitter || document.activeElement;
    message.textContent = form.dataset.confirm;
    dialog.returnValue = "";
    dialog.showModal();
    dialog.querySelector("[data-dialog-cancel]").focus();
  });

  dialog.addEventListener("close", () => {
    const form = pendingForm;
    pendingForm = null;
    if (form && dialog.returnValue === "confirm") {
      const confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      confirmed.value = "yes";
      form.append(confirmed);
      form.submit();
      return;
    }
    if (opener && document.contains(opener)) opener.focus();
  });
}
