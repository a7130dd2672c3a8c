// Usage charts: draws each <figure data-chart> with uPlot (static/vendor/uplot) from the JSON next to it, and
// folds the figure's table (the same numbers) behind a button. Without JavaScript the table is the chart.
(function () {
  "use strict";
  if (typeof uPlot === "undefined") return;
  var COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"];
  var HEIGHT = 240;

  function label(unit, value) {
    if (value === null || value === undefined) return "–";
    return unit === "ms" ? value.toFixed(1) + " ms" : value.toLocaleString();
  }

  function draw(figure) {
    var id = figure.getAttribute("data-chart");
    var spec = JSON.parse(document.getElementById(id + "-data").textContent);
    var canvas = document.getElementById(id + "-canvas");
    var table = document.getElementById(id + "-table");
    canvas.hidden = false;
    var width = function () { return Math.max(280, canvas.clientWidth || figure.clientWidth); };
    var series = [{ label: "Time (UTC)" }].concat(spec.series.map(function (name, i) {
      return {
        label: name,
        stroke: COLOURS[i % COLOURS.length],
        width: 2,
        spanGaps: spec.unit === "ms",
        value: function (u, v) { return label(spec.unit, v); },
      };
    }));
    var options = {
      width: width(),
      height: HEIGHT,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: { x: { time: true } },
      series: series,
      axes: [{}, { size: 70, values: function (u, ticks) { return ticks.map(function (t) { return label(spec.unit, t); }); } }],
    };
    var plot = new uPlot(options, [spec.x].concat(spec.values), canvas);
    table.hidden = true;
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "btn btn-link btn-small";
    toggle.textContent = "Show the numbers";
    toggle.setAttribute("aria-controls", id + "-table");
    toggle.setAttribute("aria-expanded", "false");
    toggle.addEventListener("click", function () {
      table.hidden = !table.hidden;
      toggle.setAttribute("aria-expanded", String(!table.hidden));
      toggle.textContent = table.hidden ? "Show the numbers" : "Hide the numbers";
    });
    figure.insertBefore(toggle, table);
    window.addEventListener("resize", function () { plot.setSize({ width: width(), height: HEIGHT }); });
  }

  document.querySelectorAll("figure[data-chart]").forEach(draw);
})();
