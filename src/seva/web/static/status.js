/* Live status page: follows /status/stream (Server-Sent Events) and updates the numbers, the
   tables and the SVG bars the server drew. Without JavaScript the page shows the figures as of
   its loading; this file only keeps them fresh. The bar arithmetic mirrors
   seva/dashboard/charts.py. */
(function () {
  "use strict";
  var root = document.getElementById("status");
  if (!root || !window.EventSource) { return; }
  var lang = document.documentElement.lang || "en";
  var SVG = "http://www.w3.org/2000/svg";

  function fmt(value) { return Number(value).toLocaleString("en-IN"); }
  function pick(names) { return (names && (names[lang] || names.en)) || ""; }
  function round1(value) { return Math.round(value * 10) / 10; }
  function setText(el, text) {
    text = String(text);
    if (el && el.textContent !== text) { el.textContent = text; }
  }

  function drawChannels(counts) {
    var svg = document.getElementById("chart-channel");
    if (!svg) { return; }
    var labelWidth = Number(svg.dataset.labelWidth);
    var plotWidth = Number(svg.dataset.plotWidth);
    var peak = Math.max.apply(null, counts.map(function (c) { return c.count; }).concat([0])) || 1;
    var parts = [];
    counts.forEach(function (c) {
      var group = svg.querySelector('g[data-key="' + CSS.escape(c.key) + '"]');
      if (!group) { return; }
      var width = round1(plotWidth * c.count / peak);
      group.querySelector("rect").setAttribute("width", width);
      var value = group.querySelector(".st-val");
      value.setAttribute("x", labelWidth + width + 6);
      setText(value, c.count);
      parts.push(group.dataset.label + ": " + c.count);
      setText(root.querySelector('[data-channel-count="' + CSS.escape(c.key) + '"]'), fmt(c.count));
    });
    setText(document.getElementById("chart-channel-desc"), parts.join("; "));
  }

  function drawHours(hourly) {
    var svg = document.getElementById("chart-hour");
    if (!svg) { return; }
    var top = Number(svg.dataset.plotTop);
    var height = Number(svg.dataset.plotHeight);
    var peak = Math.max.apply(null, hourly.concat([0]));
    var scale = peak || 1;
    hourly.forEach(function (value, hour) {
      var rect = svg.querySelector('rect[data-key="' + hour + '"]');
      if (!rect) { return; }
      var tall = round1(height * value / scale);
      rect.setAttribute("height", tall);
      rect.setAttribute("y", round1(top + height - tall));
      setText(rect.querySelector("title"), (hour < 10 ? "0" : "") + hour + ":00: " + value);
      setText(root.querySelector('[data-hour-count="' + hour + '"]'), fmt(value));
    });
    setText(svg.querySelector("[data-peak]"), peak);
  }

  function fillRows(tbodyId, rows) {
    var body = document.getElementById(tbodyId);
    if (!body) { return; }
    var fresh = document.createDocumentFragment();
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      th.appendChild(document.createTextNode(row.name + " "));
      var badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = row.code;
      th.appendChild(badge);
      var td = document.createElement("td");
      td.className = "num";
      td.textContent = fmt(row.count);
      tr.appendChild(th);
      tr.appendChild(td);
      fresh.appendChild(tr);
    });
    if (!rows.length && body.dataset.empty) {
      var tr = document.createElement("tr");
      var td = document.createElement("td");
      td.colSpan = 2;
      td.className = "muted";
      td.textContent = body.dataset.empty;
      tr.appendChild(td);
      fresh.appendChild(tr);
    }
    body.replaceChildren(fresh);
  }

  function update(snap) {
    ["transactions_today", "completed_today", "services_live", "departments_live"].forEach(
      function (key) { setText(root.querySelector('[data-stat="' + key + '"]'), fmt(snap[key])); }
    );
    var day = root.querySelector('[data-stat="day"]');
    if (day) {
      day.setAttribute("datetime", snap.day);
      setText(day, snap.day.split("-").reverse().join("-"));
    }
    var updated = root.querySelector('[data-stat="updated"]');
    if (updated) {
      updated.setAttribute("datetime", snap.generated_at);
      setText(updated, new Date(snap.generated_at).toLocaleTimeString(lang === "hi" ? "hi-IN" : "en-IN", { timeZone: "Asia/Kolkata" }));
    }
    drawChannels(snap.by_channel);
    drawHours(snap.hourly);
    snap.by_outcome.forEach(function (o) {
      setText(root.querySelector('[data-outcome-count="' + CSS.escape(o.key) + '"]'), fmt(o.count));
    });
    fillRows("st-departments", snap.by_department.map(function (d) {
      return { name: pick(d.name), code: d.code, count: d.count };
    }));
    fillRows("st-services", snap.by_service.map(function (s) {
      return { name: pick(s.title), code: s.department, count: s.count };
    }));
    fillRows("st-live-services", snap.live.map(function (d) {
      return { name: pick(d.name), code: d.code, count: d.services };
    }));
  }

  var live = document.getElementById("st-live");
  var note = document.getElementById("st-static-note");
  var source = new EventSource(root.dataset.stream || "/status/stream");
  source.onopen = function () {
    if (live) { live.hidden = false; }
    if (note) { note.hidden = true; }
  };
  source.onerror = function () {
    if (live) { live.hidden = true; }
    if (note) { note.hidden = false; }
  };
  source.onmessage = function (event) {
    var snap;
    try { snap = JSON.parse(event.data); } catch (err) { return; }
    update(snap);
  };
}());
