// Charts: each <canvas data-chart="ID"> draws the JSON data block <script type="application/json" id="ID">
// (data, not code: the Content-Security-Policy allows only scripts from this site).
(function () {
  "use strict";
  var COLOURS = ["#1f4e79", "#5b8db8"], FILLS = ["#1f4e79", "#5b8db8"];
  function draw(root) {
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn || typeof Chart === "undefined") { return; }
      // the data: the canvas's own data-spec (what htmx swaps in: it drops <script> blocks, allowScriptTags is
      // off), else the JSON block the canvas names
      var source = canvas.dataset.spec ? null : document.getElementById(canvas.dataset.chart);
      if (!canvas.dataset.spec && !source) { return; }
      var spec = JSON.parse(canvas.dataset.spec || source.textContent);
      canvas.dataset.drawn = "1";
      // one series ("values"), or several ("series": [{label, type, values}]); a null value is a gap, not zero
      var datasets = spec.series ? spec.series.map(function (series, index) {
        return { label: series.label, type: series.type, order: index,
          data: series.values.map(function (v) { return v === null ? null : Number(v); }),
          borderColor: COLOURS[index % COLOURS.length], backgroundColor: FILLS[index % FILLS.length] };
      }) : [{ label: canvas.getAttribute("aria-label"),
          data: spec.values.map(Number), borderColor: "#1f4e79", backgroundColor: "#5b8db8", stepped: spec.type === "line" }];
      new Chart(canvas, {
        type: spec.type,
        data: { labels: spec.labels, datasets: datasets },
        options: { animation: false, responsive: true, maintainAspectRatio: false,
          plugins: { legend: { display: Boolean(spec.series) } } }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });

  // A command form once answered (done or refused) is a new command when sent again: its Idempotency-Key is
  // renewed, so the service neither replays the first answer nor refuses the key as reused. A request that got
  // no answer keeps its key: sent again, it is the same command and the service does it at most once.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("form") : null;
    var key = form ? form.querySelector("input[name=idempotency_key]") : null;
    if (!key || !event.detail.xhr || !event.detail.xhr.status) { return; }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    key.value = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  });
})();
