// Shows each <time data-local-time> in the reader's own time zone; the server wrote UTC, and the
// exact ISO moment stays in the title for hovering.
const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
for (const element of document.querySelectorAll("time[data-local-time]")) {
  const moment = new Date(element.getAttribute("datetime"));
  if (!Number.isNaN(moment.getTime())) element.textContent = format.format(moment);
}
