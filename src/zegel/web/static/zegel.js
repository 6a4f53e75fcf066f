// zegel web: small enhancements. Every page works without this file.
"use strict";
(function () {
  function copyButtons() {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      button.hidden = false;
      var label = button.textContent;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source) return;
        navigator.clipboard.writeText(source.textContent).then(function () {
          button.textContent = document.documentElement.lang === "nl" ? "Gekopieerd" : "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        });
      });
    });
  }

  function poll(url, every, onData) {
    var stopped = false;
    function tick() {
      if (stopped) return;
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (data && onData(data) === false) { stopped = true; return; }
          setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, every * 2); });
    }
    setTimeout(tick, every);
  }

  function tester() {
    var box = document.getElementById("tester-wait");
    if (!box) return;
    var id = box.getAttribute("data-tester");
    poll("/api/tester/" + encodeURIComponent(id), 1000, function (data) {
      if (data.status === "done") { window.location.reload(); return false; }
      return true;
    });
  }

  function bulk() {
    var box = document.getElementById("bulk");
    if (!box || box.getAttribute("data-finished") === "true") return;
    var id = box.getAttribute("data-bulk");
    var bar = document.getElementById("bulk-progress");
    var status = document.getElementById("bulk-status");
    poll("/api/bulk/" + encodeURIComponent(id), 700, function (data) {
      if (bar) { bar.max = data.total; bar.value = data.done; }
      if (status) {
        status.textContent = document.documentElement.lang === "nl"
          ? data.done + " van " + data.total + " domeinen gecontroleerd"
          : data.done + " of " + data.total + " domains checked";
      }
      if (data.finished) { window.location.reload(); return false; }
      return true;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    copyButtons();
    tester();
    bulk();
  });
})();
