// Kiln portal: small enhancements over server-rendered pages. Every page
// works without this file; it adds local times, live build logs and status,
// and a few conveniences. No inline script anywhere (the CSP forbids it).
"use strict";
(function () {
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  // Times: the server writes UTC; show them in the reader's zone.
  var fmt;
  try { fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }); } catch (e) { fmt = null; }
  function localize(root) {
    $$("time[data-local]", root).forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d)) return;
      t.title = t.textContent;
      t.textContent = fmt ? fmt.format(d) : d.toLocaleString();
      t.removeAttribute("data-local");
    });
  }

  // ANSI SGR escapes to classes, the same rules as portal/ansi.go.
  function sgr(st, params) {
    if (params === "") return { fg: -1, bg: -1 };
    var ps = params.split(";");
    for (var k = 0; k < ps.length; k++) {
      var n = parseInt(ps[k], 10);
      if (isNaN(n)) continue;
      if (n === 0) st = { fg: -1, bg: -1 };
      else if (n === 1) st.b = true;
      else if (n === 2) st.dim = true;
      else if (n === 3) st.i = true;
      else if (n === 4) st.u = true;
      else if (n === 22) { st.b = false; st.dim = false; }
      else if (n === 23) st.i = false;
      else if (n === 24) st.u = false;
      else if (n >= 30 && n <= 37) st.fg = n - 30;
      else if (n === 39) st.fg = -1;
      else if (n >= 40 && n <= 47) st.bg = n - 40;
      else if (n === 49) st.bg = -1;
      else if (n >= 90 && n <= 97) st.fg = n - 82;
      else if (n >= 100 && n <= 107) st.bg = n - 92;
      else if (n === 38 || n === 48) {
        if (ps[k + 1] === "5" && k + 2 < ps.length) {
          var c = parseInt(ps[k + 2], 10);
          if (c < 16) { if (n === 38) st.fg = c; else st.bg = c; }
          k += 2;
        } else if (ps[k + 1] === "2") k += 4;
      }
    }
    return st;
  }
  function cls(st) {
    var c = [];
    if (st.fg >= 0) c.push("fg" + st.fg);
    if (st.bg >= 0) c.push("bg" + st.bg);
    if (st.b) c.push("b");
    if (st.dim) c.push("dim");
    if (st.i) c.push("i");
    if (st.u) c.push("u");
    return c.join(" ");
  }
  var controls = /[\x00-\x08\x0a-\x1f\x7f]/g;
  // renderLine appends the line's text to el as text nodes and spans:
  // log text never becomes markup.
  function renderLine(el, text) {
    var st = { fg: -1, bg: -1 }, buf = "", i = 0;
    function flush() {
      if (!buf) return;
      var t = buf.replace(controls, ""), c = cls(st);
      if (c) { var s = document.createElement("span"); s.className = c; s.textContent = t; el.appendChild(s); }
      else el.appendChild(document.createTextNode(t));
      buf = "";
    }
    while (i < text.length) {
      var ch = text.charCodeAt(i);
      if (ch !== 27) { buf += text[i++]; continue; }
      if (text[i + 1] === "[") {
        var j = i + 2;
        while (j < text.length && (text.charCodeAt(j) < 0x40 || text.charCodeAt(j) > 0x7e)) j++;
        if (j >= text.length) break;
        if (text[j] === "m") { flush(); st = sgr(st, text.slice(i + 2, j)); }
        i = j + 1;
      } else if (text[i + 1] === "]") {
        var k = i + 2;
        while (k < text.length && text.charCodeAt(k) !== 7 && !(text.charCodeAt(k) === 27 && text[k + 1] === "\\")) k++;
        if (text.charCodeAt(k) === 27) k++;
        i = k + 1;
      } else i += 2;
    }
    flush();
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("logged out"); }
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function statusBadge(status) {
    var s = document.createElement("span");
    s.className = "status s-" + status;
    s.setAttribute("data-status", status);
    s.textContent = status;
    return s;
  }
  var terminal = { succeeded: 1, failed: 1, canceled: 1 };

  // duration formats milliseconds like portal/render.go's humanDuration.
  function duration(ms) {
    if (ms < 1000) return Math.max(0, Math.round(ms)) + "ms";
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m" + ("0" + Math.floor(s % 60)).slice(-2) + "s";
    return Math.floor(m / 60) + "h" + ("0" + (m % 60)).slice(-2) + "m";
  }

  // The build page: follow the log and the steps until the build ends.
  function buildPage(log) {
    var id = log.getAttribute("data-build");
    var after = parseInt(log.getAttribute("data-after"), 10) || 0;
    // wasLive: the build was running when the page was made, so the page
    // reloads when it ends, to show its files and report.
    var stick = true, wasLive = log.hasAttribute("data-running");
    var follow = $("#log-follow"), search = $("#log-search"), matches = $("#log-matches");
    var query = "";

    function atBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 24; }
    function toBottom() { log.scrollTop = log.scrollHeight; }
    log.addEventListener("scroll", function () {
      stick = atBottom();
      if (stick && follow) follow.hidden = true;
    });
    if (follow) follow.addEventListener("click", function () { stick = true; toBottom(); follow.hidden = true; log.focus(); });

    function filter(line) {
      var hit = !query || line.textContent.toLowerCase().indexOf(query) >= 0;
      line.classList.toggle("hidden-by-search", !hit);
      return hit;
    }
    function countMatches() {
      if (!matches) return;
      if (!query) { matches.textContent = ""; return; }
      var n = $$(".line", log).filter(function (l) { return !l.classList.contains("hidden-by-search"); }).length;
      matches.textContent = n + (n === 1 ? " matching line" : " matching lines");
    }
    if (search) search.addEventListener("input", function () {
      query = search.value.trim().toLowerCase();
      $$(".line", log).forEach(filter);
      countMatches();
      if (stick) toBottom();
    });

    function addLines(lines) {
      if (!lines.length) return;
      var empty = $("#log-empty");
      if (empty) empty.remove();
      var frag = document.createDocumentFragment();
      lines.forEach(function (l) {
        if (l.seq <= after) return;
        var div = document.createElement("div");
        div.className = "line " + l.stream;
        div.setAttribute("data-seq", l.seq);
        renderLine(div, l.text);
        filter(div);
        frag.appendChild(div);
        if (l.stream === "system" && l.text.indexOf("UNSANDBOXED") >= 0) $("#unsandboxed").hidden = false;
        after = l.seq;
      });
      log.appendChild(frag);
      if (query) countMatches();
      if (stick) toBottom();
      else if (follow) follow.hidden = false;
    }

    function setStatus(status) {
      var st = $("#build-status");
      if (st && !st.querySelector('[data-status="' + status + '"]')) { st.textContent = ""; st.appendChild(statusBadge(status)); }
    }
    function setError(text) {
      var err = $("#build-error");
      if (err && text) { err.textContent = text; err.hidden = false; }
    }
    // stepRow shows one step event: a new row when it started, its outcome
    // and duration when it finished.
    function stepRow(s) {
      var tb = $("#steps");
      if (!tb) return;
      var none = $("tr.none", tb);
      if (none) none.remove();
      var tr = $('tr[data-step="' + s.id + '"]', tb);
      if (!tr) {
        tr = document.createElement("tr");
        tr.setAttribute("data-step", s.id);
        for (var i = 0; i < 3; i++) tr.appendChild(document.createElement("td"));
        tb.appendChild(tr);
      }
      tr.children[0].textContent = s.name;
      tr.children[1].textContent = "";
      tr.children[1].appendChild(statusBadge(s.outcome));
      if (s.error) { var e = document.createElement("span"); e.className = "muted"; e.textContent = " " + s.error; tr.children[1].appendChild(e); }
      tr.children[2].textContent = s.phase === "finished" ? duration(s.duration_ms || 0) : "";
    }

    function update(d) {
      setStatus(d.status);
      var tb = $("#steps");
      if (tb && d.steps && d.steps.length) {
        tb.textContent = "";
        d.steps.forEach(function (s) {
          var tr = document.createElement("tr");
          var a = document.createElement("td"); a.textContent = s.name;
          var b = document.createElement("td"); b.appendChild(statusBadge(s.outcome));
          if (s.error) { var e = document.createElement("span"); e.className = "muted"; e.textContent = " " + s.error; b.appendChild(e); }
          var c = document.createElement("td"); c.textContent = s.duration;
          tr.appendChild(a); tr.appendChild(b); tr.appendChild(c);
          tb.appendChild(tr);
        });
      }
      setError(d.error);
      if (d.cancel_requested) {
        var btn = $("#cancel-form button");
        if (btn) { btn.disabled = true; btn.textContent = "Canceling…"; }
      }
    }

    var failures = 0;
    function poll() {
      log.setAttribute("data-following", "poll");
      getJSON("/builds/" + id + "/log.json?after=" + after).then(function (d) {
        failures = 0;
        addLines(d.lines || []);
        update(d);
        if (d.more) { setTimeout(poll, 0); return; }
        if (d.terminal && !(d.lines || []).length) {
          // The build ended: show its files and report.
          if (wasLive) location.reload();
          return;
        }
        setTimeout(poll, 1000);
      }).catch(function () {
        failures++;
        if (failures < 20) setTimeout(poll, Math.min(1000 * Math.pow(2, failures), 15000));
      });
    }
    // followStream reads the API's event stream (docs/STREAMING.md) with a
    // single-use ticket per connection; after repeated failures it falls
    // back to polling.
    var seq = after, streamFailures = 0;
    function followStream() {
      var body = new URLSearchParams({ csrf: log.getAttribute("data-csrf") });
      fetch("/stream-ticket.json", { method: "POST", credentials: "same-origin", body: body }).then(function (r) {
        if (!r.ok) throw new Error("ticket: HTTP " + r.status);
        return r.json();
      }).then(function (t) {
        var es = new EventSource("/v1/builds/" + id + "/events?ticket=" + encodeURIComponent(t.ticket) + "&after=" + seq);
        var ended = false;
        function end() { ended = true; es.close(); if (wasLive) location.reload(); }
        es.onopen = function () { streamFailures = 0; log.setAttribute("data-following", "stream"); };
        es.onmessage = function (m) {
          var e = JSON.parse(m.data);
          if (e.seq > seq) seq = e.seq;
          if (e.kind === "log" && e.log) addLines([{ seq: e.seq, stream: e.log.stream, text: e.log.text }]);
          else if (e.kind === "status" && e.status) setStatus(e.status.status);
          else if (e.kind === "step" && e.step) stepRow(e.step);
          else if (e.kind === "end" && e.end) { setStatus(e.end.status); setError(e.end.error); end(); }
        };
        es.addEventListener("close", function (m) {
          var c = {};
          try { c = JSON.parse(m.data); } catch (x) { /* keep {} */ }
          es.close();
          if (c.code === 1000) { if (!ended) end(); } else retry();
        });
        es.onerror = function () { if (!ended) { es.close(); retry(); } };
      }).catch(retry);
    }
    function retry() {
      streamFailures++;
      if (streamFailures > 5) { poll(); return; }
      setTimeout(followStream, Math.min(500 * Math.pow(2, streamFailures), 10000));
    }

    toBottom();
    if (log.hasAttribute("data-live")) {
      if (log.hasAttribute("data-stream") && window.EventSource) followStream();
      else poll();
    }
  }

  // The dashboard: update the status of builds that are still running.
  function dashboard(table) {
    var cursor = table.getAttribute("data-live-apps") || "";
    function poll() {
      getJSON("/apps/status.json?cursor=" + encodeURIComponent(cursor)).then(function (d) {
        var live = false;
        (d.apps || []).forEach(function (a) {
          var row = $('tr[data-app="' + a.id + '"]', table);
          if (!row || !a.status) return;
          if (!terminal[a.status]) live = true;
          var cell = row.children[1];
          var link = cell.querySelector("a.build-link");
          if (!link || link.getAttribute("href") !== "/builds/" + a.build_id || !link.querySelector('[data-status="' + a.status + '"]')) {
            cell.textContent = "";
            link = document.createElement("a");
            link.className = "build-link";
            link.href = "/builds/" + a.build_id;
            link.appendChild(document.createTextNode("#" + a.number + " "));
            link.appendChild(statusBadge(a.status));
            cell.appendChild(link);
          }
        });
        if (live) setTimeout(poll, 3000);
      }).catch(function () { setTimeout(poll, 10000); });
    }
    setTimeout(poll, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localize(document);

    $$("a[data-example]").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        var box = $("#description");
        if (!box) return;
        ev.preventDefault();
        box.value = a.getAttribute("data-example");
        box.focus();
      });
    });
    $$("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        if (!window.confirm(f.getAttribute("data-confirm"))) ev.preventDefault();
      });
    });
    $$("[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () {
        var input = $(b.getAttribute("data-copy"));
        if (!input) return;
        input.select();
        var done = function () { b.textContent = "Copied"; };
        if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
        else { document.execCommand("copy"); done(); }
      });
    });
    var af = $("[data-autofocus]");
    if (af) af.focus();
    var summary = $("#spec-errors");
    if (summary) summary.focus();

    var log = $("#log[data-build]");
    if (log) buildPage(log);
    var apps = $("table[data-live-apps]");
    if (apps) dashboard(apps);
    var live = $("[data-live-reload]");
    if (live) setTimeout(function () { location.reload(); }, parseInt(live.getAttribute("data-live-reload"), 10) || 5000);
  });
})();
