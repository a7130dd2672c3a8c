/* Copy buttons, e.g. for a new access token shown once:
     <input id="x" type="text" readonly value="…" data-select-on-focus>
     <button type="button" data-copy="x" data-copy-status="x-status" hidden>Copy</button>
     <p id="x-status" aria-live="polite"></p>
   The button stays hidden without JavaScript; the read-only input can still be selected and copied by hand.
   Loaded with `defer`; no inline scripts (the Content-Security-Policy allows only scripts from this site). */
(function () {
  "use strict";

  function copyWithSelection(input) {
    input.focus();
    input.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function init() {
    document.querySelectorAll("input[data-select-on-focus]").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
      input.addEventListener("click", function () { input.select(); });
    });

    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var input = document.getElementById(button.getAttribute("data-copy"));
      if (!input) return;
      var status = document.getElementById(button.getAttribute("data-copy-status") || "");
      var label = button.textContent;
      var timer = null;

      function report(ok) {
        button.textContent = ok ? "Copied" : label;
        if (status) {
          status.textContent = ok ? "Copied to the clipboard." : "Could not copy: select the text and copy it yourself.";
        }
        clearTimeout(timer);
        if (ok) timer = setTimeout(function () { button.textContent = label; }, 2000);
      }

      button.hidden = false;
      button.addEventListener("click", function () {
        input.select();
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(
            function () { report(true); },
            function () { report(copyWithSelection(input)); }
          );
        } else {
          report(copyWithSelection(input));
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
