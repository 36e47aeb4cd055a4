// Live progress: elements with data-poll="<JSON URL>" are refreshed every few seconds;
// each [data-field="name"] inside gets the value of that field of the answer.
"use strict";
function pollOnce(el) {
  fetch(el.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .then((data) => {
      if (!data) return;
      el.querySelectorAll("[data-field]").forEach((cell) => {
        const value = data[cell.dataset.field];
        if (value !== undefined && value !== null) cell.textContent = String(value);
      });
      if (data.final) el.removeAttribute("data-poll");
    })
    .catch(() => {});
}
function pollAll() {
  document.querySelectorAll("[data-poll]").forEach(pollOnce);
}
document.addEventListener("DOMContentLoaded", () => {
  if (document.querySelector("[data-poll]")) setInterval(pollAll, 3000);
});
