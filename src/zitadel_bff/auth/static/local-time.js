// Times are rendered in UTC on the server; show each in the viewer's own time zone as well.
// A plain script file (CSP: script-src 'self'); the page reads fine without it.
for (const el of document.querySelectorAll("time[data-local]")) {
  const when = new Date(el.getAttribute("datetime"));
  if (Number.isNaN(when.getTime())) continue;
  const local = when.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short",
  });
  el.title = el.textContent;
  el.textContent = local;
}
