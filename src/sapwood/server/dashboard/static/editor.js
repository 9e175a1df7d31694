// Deploy editor: line numbers that follow the text and scroll with it, and "Line N" links
// that move the caret to that line. Error marks fade once the text changes; after a pause in
// typing the page posts the text to the Check endpoint (the Check button's own request) and
// shows that answer's errors the way Check does.
(function () {
  "use strict";
  var text = document.getElementById("editor-text");
  var gutter = document.getElementById("gutter");
  var backdrop = document.getElementById("backdrop");
  if (!text || !gutter) { return; }
  var editor = text.closest(".editor");
  var form = text.form;
  var region = document.getElementById("check-errors");
  var PAUSE_MS = 600;
  var timer = null;
  var inFlight = null;
  // Every edit bumps this; an answer is shown only while it still carries the latest number.
  var sequence = 0;
  var shownErrors = listKey(document.getElementById("errors"));

  function renumber() {
    var count = text.value.split("\n").length;
    var have = gutter.children.length;
    for (var n = have + 1; n <= count; n++) {
      var li = document.createElement("li");
      li.textContent = String(n);
      li.dataset.line = String(n);
      gutter.appendChild(li);
    }
    while (gutter.children.length > count && gutter.children.length > 1) {
      gutter.removeChild(gutter.lastChild);
    }
  }

  function sync() {
    gutter.scrollTop = text.scrollTop;
    if (backdrop) { backdrop.scrollTop = text.scrollTop; backdrop.scrollLeft = text.scrollLeft; }
  }

  function listKey(section) {
    return section ? section.innerHTML : "";
  }

  // Marks and the error list from a rendered deploy page, or none at all when page is null.
  function show(page) {
    var fresh = page ? page.getElementById("errors") : null;
    var key = listKey(fresh);
    // Rewriting an unchanged list would make screen readers read it again on every pause.
    if (region && key !== shownErrors) {
      region.textContent = "";
      if (fresh) {
        // Polite, from the region around it: an alert would interrupt the typing.
        fresh.removeAttribute("role");
        region.appendChild(document.importNode(fresh, true));
      }
      shownErrors = key;
    }
    var result = document.getElementById("result");
    if (result) { result.remove(); }  // it described the text as it was submitted
    var marked = {};
    if (page) {
      page.querySelectorAll("#gutter li.error").forEach(function (li) {
        marked[li.dataset.line] = true;
      });
    }
    Array.prototype.forEach.call(gutter.children, function (li) {
      li.classList.toggle("error", marked[li.dataset.line] === true);
    });
    var lines = page ? page.getElementById("backdrop") : null;
    if (backdrop) {
      backdrop.textContent = "";
      if (lines) {
        Array.prototype.forEach.call(lines.childNodes, function (node) {
          backdrop.appendChild(document.importNode(node, true));
        });
      }
    }
    if (fresh) {
      text.setAttribute("aria-invalid", "true");
      text.setAttribute("aria-describedby", "errors");
    } else {
      text.removeAttribute("aria-invalid");
      text.removeAttribute("aria-describedby");
    }
    if (editor) { editor.classList.remove("stale"); }
    sync();
  }

  function cancel() {
    clearTimeout(timer);
    timer = null;
    if (inFlight) { inFlight.abort(); inFlight = null; }
    sequence += 1;
  }

  function liveCheck() {
    var sent = text.value;
    var mine = sequence;
    var controller = new AbortController();
    inFlight = controller;
    // The Check button's request: same URL, same form fields, so the same CSRF token.
    var body = new URLSearchParams(new FormData(form));
    body.set("text", sent);
    body.set("action", "check");
    // getAttribute: form.action would be the buttons named "action".
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      signal: controller.signal
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (mine !== sequence || text.value !== sent) { return; }
        inFlight = null;
        var page = new DOMParser().parseFromString(html, "text/html");
        // Signed out or refused: not the deploy page; the buttons will say why.
        if (!page.getElementById("backdrop")) { return; }
        show(page);
      })
      .catch(function () {
        // Aborted by a newer edit, or the server is unreachable: nothing to show.
      });
  }

  text.addEventListener("input", function () {
    renumber();
    if (editor) { editor.classList.add("stale"); }
    sync();
    cancel();
    if (!text.value.trim()) {
      show(null);
      return;
    }
    if (form) { timer = setTimeout(liveCheck, PAUSE_MS); }
  });
  text.addEventListener("scroll", sync);
  if (form) { form.addEventListener("submit", cancel); }

  function goTo(line) {
    var lines = text.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { start += lines[i].length + 1; }
    var end = start + (lines[line - 1] || "").length;
    text.focus();
    text.setSelectionRange(start, end);
    var lineHeight = 21;
    text.scrollTop = Math.max(0, (line - 3) * lineHeight);
    sync();
  }

  // Delegated, so links in a list that a live check put in place work too.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.goto") : null;
    if (!link) { return; }
    event.preventDefault();
    goTo(parseInt(link.dataset.line, 10));
  });
  renumber();
})();
