// Deploy editor: line numbers that follow the text and scroll with it, and "Line N" links
// that move the caret to that line. Server-rendered error marks fade once the text changes.
(function () {
  "use strict";
  var text = document.getElementById("editor-text");
  var gutter = document.getElementById("gutter");
  var backdrop = document.getElementById("backdrop");
  if (!text || !gutter) { return; }
  var editor = text.closest(".editor");

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

  text.addEventListener("input", function () {
    renumber();
    if (editor) { editor.classList.add("stale"); }
    sync();
  });
  text.addEventListener("scroll", sync);

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

  document.querySelectorAll("a.goto").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      goTo(parseInt(link.dataset.line, 10));
    });
  });
  renumber();
})();
