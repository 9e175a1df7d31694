// Workload page: stream the logs into the page (auto-scrolling while at the bottom), and
// refresh the phase and the charts while the workload is not finished.
(function () {
  "use strict";
  var root = document.getElementById("workload");
  if (!root) { return; }
  var base = root.dataset.base;
  var logs = document.getElementById("logs");
  var state = document.getElementById("logs-state");
  var form = document.getElementById("logs-form");
  var controller = null;
  var replica = "0";

  function atBottom() {
    return logs.scrollHeight - logs.scrollTop - logs.clientHeight < 24;
  }

  function stream(which) {
    replica = which;
    if (controller) { controller.abort(); }
    controller = new AbortController();
    logs.textContent = "";
    state.textContent = "streaming…";
    var decoder = new TextDecoder();
    fetch(logs.dataset.src + "?replica=" + encodeURIComponent(replica),
          { signal: controller.signal, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          state.textContent = "no logs (" + response.status + ")";
          return null;
        }
        var reader = response.body.getReader();
        function pump() {
          return reader.read().then(function (part) {
            if (part.done) { state.textContent = "end of log"; return null; }
            var follow = atBottom();
            logs.textContent += decoder.decode(part.value, { stream: true });
            if (follow) { logs.scrollTop = logs.scrollHeight; }
            return pump();
          });
        }
        return pump();
      })
      .catch(function (error) {
        if (error.name !== "AbortError") { state.textContent = "log stream ended: " + error.message; }
      });
  }

  if (logs && form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      stream(document.getElementById("replica").value || "0");
    });
    stream("0");
  }

  var phase = document.getElementById("phase");
  var message = document.getElementById("status-message");
  var charts = document.getElementById("charts");
  var finished = root.dataset.terminal === "true";

  function refresh() {
    fetch(base + "/status", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        phase.textContent = s.phase;
        phase.className = "phase phase-" + s.phase.toLowerCase();
        message.textContent = s.note;
        return fetch(base + "/charts", { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (html !== null) { charts.innerHTML = html; }
            if (s.terminal) {
              finished = true;
              if (logs && form) { stream(replica); }  // the whole log, then the stream ends
            }
          });
      })
      .finally(function () { if (!finished) { window.setTimeout(refresh, 2000); } });
  }
  if (!finished) { window.setTimeout(refresh, 2000); }
})();
