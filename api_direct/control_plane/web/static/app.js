// The pages work without this script; it only adds copy buttons and a confirmation.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const status = document.querySelector(".copy-status");
  source.select();
  try {
    await navigator.clipboard.writeText(source.value);
    status.textContent = "Copied to the clipboard.";
  } catch {
    // No clipboard permission (an insecure origin, an old browser): the text is selected for Ctrl-C.
    status.textContent = "Selected: press Ctrl-C (⌘-C) to copy.";
  }
});
document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
