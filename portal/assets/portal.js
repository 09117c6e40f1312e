// relayhook portal: progressive enhancement only. Every action works
// without this file; it adds copy buttons beside secrets.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var target = document.getElementById(btn.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) {
      return;
    }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      navigator.clipboard.writeText(target.value).then(function () {
        btn.textContent = "Copied";
      }, function () {
        target.select();
      });
    });
  });
});
