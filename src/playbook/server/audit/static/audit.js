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

// Review-queue keys on an entry's page: j/k next and previous, a approve (then the next entry
// in the queue, if any), r reject, e edit.
// Ignored while typing, so that a guideline can contain these letters.
const KEYS = {
  j: () => follow("next"),
  n: () => follow("next"),
  k: () => follow("previous"),
  p: () => follow("previous"),
  a: () => press("approve-next") || press("approve"),
  r: () => focus("form[action$='/reject'] input[name=reason]"),
  e: () => focus("#edit textarea"),
};

function follow(id) {
  const link = document.getElementById(id);
  if (link) window.location.href = link.href;
}

function press(id) {
  const button = document.getElementById(id);
  if (button) button.click();
  return Boolean(button);
}

function focus(selector) {
  const field = document.querySelector(selector);
  if (field) field.focus();
}

document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing = target.closest && target.closest("input, textarea, select, [contenteditable]");
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const action = KEYS[event.key];
  if (!action || !document.getElementById("queue")) return;
  event.preventDefault();
  action();
});
