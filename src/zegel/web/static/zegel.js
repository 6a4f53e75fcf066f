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
    var rows = document.getElementById("bulk-rows");
    function addRow(result) {
      var row = document.createElement("tr");
      var name = document.createElement("td");
      var link = document.createElement("a");
      var lang = box.getAttribute("data-lang");
      link.href = "/check?domain=" + encodeURIComponent(result.domain) + (lang ? "&lang=" + encodeURIComponent(lang) : "");
      link.textContent = result.domain;
      name.appendChild(link);
      var grade = document.createElement("td");
      var badge = document.createElement("span");
      badge.className = "grade grade-" + String(result.grade).replace(/[^A-F]/g, "F");
      badge.textContent = result.grade;
      grade.appendChild(badge);
      var protectedCell = document.createElement("td");
      protectedCell.textContent = box.getAttribute(result.protected ? "data-yes" : "data-no");
      var count = document.createElement("td");
      count.textContent = String((result.findings || []).length);
      [name, grade, protectedCell, count].forEach(function (cell) { row.appendChild(cell); });
      rows.appendChild(row);
    }
    poll("/api/bulk/" + encodeURIComponent(id), 700, function (data) {
      if (bar) { bar.max = data.total; bar.value = data.done; }
      if (rows) {
        for (var i = rows.children.length; i < data.results.length; i++) addRow(data.results[i]);
      }
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
