// dlpguard review console: confirmation before a decision. Loaded as a
// file (the Content-Security-Policy forbids inline script).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      if (f.dataset.confirmed === "1") { return; }
      if (!window.confirm(f.dataset.confirm)) { ev.preventDefault(); return; }
      f.dataset.confirmed = "1";
      f.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    });
  });
});
