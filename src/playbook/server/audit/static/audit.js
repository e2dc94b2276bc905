// The audit pages' only script: select-all for bulk review, and a confirmation before a
// review takes effect. Every page works without it (the server checks everything again).
"use strict";

function entryBoxes() {
  return Array.from(document.querySelectorAll("input[name=ids]"));
}

function showSelection() {
  const chosen = entryBoxes().filter((box) => box.checked).length;
  const count = document.getElementById("selected-count");
  if (count) count.textContent = String(chosen);
  for (const button of document.querySelectorAll("[data-needs-selection]")) {
    button.disabled = chosen === 0;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of entryBoxes()) box.checked = all.checked;
      showSelection();
    });
  }
  for (const box of entryBoxes()) box.addEventListener("change", showSelection);
  showSelection();
});

document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const message = (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
