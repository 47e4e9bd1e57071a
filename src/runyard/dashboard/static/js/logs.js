// A step's logs: read through the API's logs-read operation, tailed live while the step runs,
// searchable (case-insensitive, matches highlighted) and filterable by level.
"use strict";

(function () {
  const PAGE = 500;
  const AUTO_LINES = 5000;     // read this many lines without asking, then offer "Load more"
  const KEEP_LINES = 50000;    // never hold more than this in the page
  const POLL_MS = 2000;

  function time(t) {
    const d = new Date(t * 1000);
    return d.toISOString().slice(11, 19);
  }

  function lineNode(line, query) {
    const span = document.createElement("span");
    span.className = "line l-" + line.level + (line.stream === "stderr" ? " stderr" : "");
    const ts = document.createElement("span");
    ts.className = "ts";
    ts.textContent = time(line.time) + " ";
    span.appendChild(ts);
    const text = line.message;
    if (!query) {
      span.appendChild(document.createTextNode(text));
    } else {
      const lower = text.toLowerCase();
      let at = 0;
      for (let i = lower.indexOf(query); i >= 0; i = lower.indexOf(query, at)) {
        span.appendChild(document.createTextNode(text.slice(at, i)));
        const mark = document.createElement("mark");
        mark.textContent = text.slice(i, i + query.length);
        span.appendChild(mark);
        at = i + query.length;
      }
      span.appendChild(document.createTextNode(text.slice(at)));
    }
    span.appendChild(document.createTextNode("\n"));
    return span;
  }

  function attach(section) {
    if (section.dataset.attached) return;
    section.dataset.attached = "1";
    const out = section.querySelector(".logs-lines");
    const search = section.querySelector(".logs-search");
    const level = section.querySelector(".logs-level");
    const state = section.querySelector(".logs-state");
    const more = section.querySelector(".logs-more");
    let lines = [], offset = 0, complete = false, generation = 0, timer = null, loading = false;

    const query = () => (search.value || "").trim().toLowerCase();
    const matches = (line, q) => !q || line.message.toLowerCase().includes(q);

    function renderAll() {
      const q = query();
      const shown = lines.filter((l) => matches(l, q));
      const frag = document.createDocumentFragment();
      for (const line of shown) frag.appendChild(lineNode(line, q));
      out.replaceChildren(frag);
      if (!lines.length) out.textContent = complete ? "No log lines." : "No log lines yet.";
      describe(shown.length);
    }

    function describe(shownCount) {
      const q = query();
      const parts = [];
      if (q) parts.push(`${shownCount} of ${lines.length} lines match`);
      else parts.push(lines.length === 1 ? "1 line" : `${lines.length} lines`);
      if (!complete && section.dataset.live === "1") parts.push("live");
      state.textContent = parts.join(" · ");
    }

    function append(newLines) {
      const q = query();
      const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 8;
      if (!lines.length) out.replaceChildren();
      lines = lines.concat(newLines);
      const frag = document.createDocumentFragment();
      for (const line of newLines) if (matches(line, q)) frag.appendChild(lineNode(line, q));
      out.appendChild(frag);
      if (atBottom) out.scrollTop = out.scrollHeight;
    }

    async function load(userAsked) {
      if (loading || !section.isConnected) return;
      loading = true;
      const mine = generation;
      const params = new URLSearchParams({ step: section.dataset.step, offset: String(offset), limit: String(PAGE) });
      if (level.value) params.set("level", level.value);
      try {
        // the logs come from the API, which reads the project from its header
        const response = await fetch(section.dataset.logsUrl + "?" + params,
          { headers: { Accept: "application/json", "X-Runyard-Project": Runyard.project() } });
        const body = await response.json();
        if (mine !== generation) return;
        if (!response.ok) {
          out.textContent = body.message || "The logs cannot be read.";
          state.textContent = "";
          complete = true;
          return;
        }
        if (body.lines.length) append(body.lines);
        offset = body.next_offset;
        complete = body.complete;
        if (!lines.length) renderAll();
        describe(lines.filter((l) => matches(l, query())).length);
        const full = body.lines.length >= PAGE;
        if (full && lines.length < KEEP_LINES && (userAsked || lines.length < AUTO_LINES)) {
          loading = false;
          return load(false);
        }
        more.hidden = !(full && lines.length < KEEP_LINES);
        schedule(full);
      } catch (err) {
        state.textContent = "Could not read the logs; retrying.";
        schedule(false);
      } finally {
        loading = false;
      }
    }

    function schedule(waitingForUser) {
      clearTimeout(timer);
      if (!complete && !waitingForUser && section.dataset.live === "1" && section.isConnected) {
        timer = setTimeout(() => load(false), POLL_MS);
      }
    }

    function restart() {
      generation += 1;
      lines = []; offset = 0; complete = false;
      out.textContent = "Loading…";
      load(false);
    }

    let debounce = null;
    search.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(renderAll, 120); });
    level.addEventListener("change", restart);
    more.addEventListener("click", () => load(true));
    load(false);
  }

  function attachAll(root) {
    for (const section of (root || document).querySelectorAll("section.logs")) attach(section);
  }

  window.RunyardLogs = { attach, attachAll };
  document.addEventListener("DOMContentLoaded", () => attachAll(document));
})();
