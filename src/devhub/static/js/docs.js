/* Reference docs: small enhancements; every page works without this file.
   - the version switcher goes as soon as a version is picked;
   - the sidebar filter narrows the list while typing (the form still filters on the server);
   - the schema filter narrows the table while typing;
   - code blocks marked data-copy get a Copy button. */
(function () {
  "use strict";

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.form) select.form.submit();
    });
  });

  var navInput = document.querySelector("input[data-filter-nav]");
  if (navInput) {
    navInput.addEventListener("input", function () {
      var needle = navInput.value.trim().toLowerCase();
      document.querySelectorAll(".ref-group").forEach(function (group) {
        var shown = 0;
        group.querySelectorAll(".ref-ops > li").forEach(function (item) {
          var match = !needle || item.textContent.toLowerCase().indexOf(needle) !== -1;
          item.hidden = !match;
          if (match) shown += 1;
        });
        group.hidden = shown === 0;
        if (needle) group.open = shown > 0;
      });
    });
  }

  document.querySelectorAll("input[data-filter-list]").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-filter-list"));
    if (!table) return;
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) === -1;
      });
    });
  });

  if (navigator.clipboard) {
    document.querySelectorAll("pre[data-copy]").forEach(function (pre) {
      var wrap = document.createElement("div");
      wrap.className = "copy-wrap";
      pre.parentNode.insertBefore(wrap, pre);
      wrap.appendChild(pre);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-secondary btn-small copy-btn";
      button.textContent = "Copy";
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(pre.textContent).then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 1500);
        });
      });
      wrap.appendChild(button);
    });
  }
})();
