// The run page: the step DAG (dagre in a Web Worker), the timeline, the step panel, live updates.
"use strict";

(function () {
  const POLL_MS = 2000;
  const ROW = 22, LABEL = 230, AXIS = 24;

  const root = document.getElementById("run-graph");
  if (!root) return;
  const runId = root.dataset.runId;
  const panel = document.getElementById("step-panel");
  const table = document.getElementById("step-table");
  const statusText = document.getElementById("graph-status");
  const state = { view: root.dataset.view, steps: [], byId: new Map(), run: null, dag: null, selected: root.dataset.selected || "", layoutPromise: null, dagHeight: "" };

  function fmtDuration(seconds) {
    if (seconds == null) return "";
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    const m = Math.floor(seconds / 60);
    return m < 60 ? `${m} min ${String(Math.floor(seconds % 60)).padStart(2, "0")} s` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
  }

  function stepDuration(s) {
    if (s.start == null) return null;
    const end = s.end != null ? s.end : (state.run && state.run.now);
    return end != null ? Math.max(end - s.start, 0) : null;
  }

  const TIMED = new Set(["running", "retrying", "completed", "failed", "cancelled"]);
  function sub(s) {
    const d = stepDuration(s);
    return s.status + (d != null && TIMED.has(s.status) ? " · " + fmtDuration(d) : "");
  }

  function setUrl() {
    const params = new URLSearchParams(window.location.search);
    params.set("view", state.view);
    if (state.selected) params.set("step", state.selected); else params.delete("step");
    history.replaceState(null, "", "?" + params.toString());
  }

  // --- DAG ---------------------------------------------------------------------------------------
  async function drawDag() {
    if (state.dag || state.layoutPromise) return state.layoutPromise;
    const shape = RunyardGraph.stepGraph(state.steps);
    const nodes = shape.nodes.map((n, i) => ({ ...n, label: n.id, sub: sub(state.steps[i]), css: "s-" + state.steps[i].status }));
    const edges = shape.edges;
    statusText.textContent = `Laying out ${nodes.length} steps…`;
    const started = performance.now();
    state.layoutPromise = RunyardGraph.layout(nodes, edges, "LR").then((placed) => {
      performance.mark("runyard:layout-done");
      if (state.view !== "dag") { root.dataset.pendingDag = "1"; }
      // small graphs: shrink the frame to the drawing; large ones keep a scrollable viewport
      state.dagHeight = Math.max(Math.min(placed.height + 12, window.innerHeight * 0.62), 140) + "px";
      root.style.height = state.dagHeight;
      // the frame is measured once, before the drawing is in it: no layout is forced in between steps
      const frame = { width: root.clientWidth, height: root.clientHeight };
      let scale = Math.min(1, (frame.width - 4) / placed.width, frame.height - 4 > 40 ? (frame.height - 4) / placed.height : 1);
      if (placed.width * 0.5 > frame.width) scale = Math.max(0.5, frame.width / placed.width);
      // start where the interest is: the chosen step, else the first failed or running one, else the first
      const focus = state.selected || (state.steps.find((s) => s.status === "failed") ||
        state.steps.find((s) => s.status === "running") || state.steps[0]).id;
      state.dag = RunyardGraph.draw(root, nodes, placed, {
        label: "step graph", onClick: (id) => select(id, true), frame, scale, focus, selected: state.selected,
      });
      performance.mark("runyard:drawn");
      markPainted();
      root.dataset.drawn = "dag";
      root.dataset.layoutMs = String(Math.round(performance.now() - started));
      root.dataset.workerMs = String(placed.ms);  // dagre alone, inside the worker
      if (state.view !== "dag") showView(state.view);
    }).catch((err) => {
      root.replaceChildren();
      const p = document.createElement("p");
      p.className = "graph-status muted";
      p.textContent = "The graph could not be laid out (" + err.message + "). The timeline and table views still work.";
      root.appendChild(p);
    });
    return state.layoutPromise;
  }

  // when the first picture was on screen (ms since navigation start): what the dashboard benchmark reads
  let paintMarked = false;
  function markPainted() {
    if (paintMarked) return;
    paintMarked = true;
    requestAnimationFrame(() => setTimeout(() => {
      performance.mark("runyard:painted");
      root.dataset.drawnAt = String(Math.round(performance.now()));
    }, 0));
  }

  // --- timeline ----------------------------------------------------------------------------------
  function drawTimeline() {
    const steps = state.steps.slice().sort((a, b) => (a.start == null) - (b.start == null) || (a.start || 0) - (b.start || 0) || a.id.localeCompare(b.id));
    const starts = steps.filter((s) => s.start != null).map((s) => s.start);
    const t0 = starts.length ? Math.min(...starts) : (state.run.start || 0);
    const t1 = Math.max(t0 + 0.001, ...steps.map((s) => (s.end != null ? s.end : s.start != null ? state.run.now : t0)));
    const width = Math.max(root.clientWidth - 18, 480);
    const span = width - LABEL - 16;
    const x = (t) => LABEL + ((t - t0) / (t1 - t0)) * span;
    const height = AXIS + steps.length * ROW + 8;
    const E = RunyardGraph.el;
    const svg = E("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "timeline" });
    const ticks = Math.max(1, Math.min(6, Math.floor(span / 190)));  // labels about 90 px wide never overlap
    for (let i = 0; i <= ticks; i++) {
      const t = t0 + ((t1 - t0) * i) / ticks;
      E("line", { x1: x(t), x2: x(t), y1: AXIS - 6, y2: height, class: "tl-grid" }, svg);
      const last = i === ticks;
      const label = E("text", { x: last ? x(t) - 2 : x(t) + 2, y: 14, class: "tl-axis", "text-anchor": last ? "end" : "start" }, svg);
      label.textContent = "+" + fmtDuration(t - t0);
    }
    steps.forEach((s, i) => {
      const y = AXIS + i * ROW;
      const g = E("g", { class: "timeline-row" + (s.id === state.selected ? " selected" : ""), "data-node": s.id, tabindex: "0", role: "button" }, svg);
      E("rect", { x: 0, y, width, height: ROW, class: "tl-bg" }, g);
      const text = E("text", { x: 6, y: y + 15, class: "tl-label" }, g);
      text.textContent = s.id.length > 30 ? s.id.slice(0, 29) + "…" : s.id;
      if (s.start != null) {
        const end = s.end != null ? s.end : state.run.now;
        E("rect", { x: x(s.start), y: y + 5, width: Math.max(x(end) - x(s.start), 2), height: ROW - 10, rx: 3, class: "tl-bar s-" + s.status }, g);
      }
      const tip = E("title", {}, g);
      tip.textContent = `${s.id}: ${sub(s)}`;
    });
    const activate = (event) => {
      const g = event.target.closest("[data-node]");
      if (g) select(g.dataset.node, true);
    };
    svg.addEventListener("click", activate);
    svg.addEventListener("keydown", (e) => { if (e.key === "Enter") activate(e); });
    root.replaceChildren(svg);
    root.style.height = Math.max(Math.min(height + 12, window.innerHeight * 0.62), 120) + "px";
    root.dataset.drawn = "timeline";
    markPainted();
  }

  function showView(view) {
    state.view = view;
    for (const tab of document.querySelectorAll(".tabs [data-view]")) tab.setAttribute("aria-selected", String(tab.dataset.view === view));
    root.dataset.view = view;
    table.hidden = view !== "table";
    root.hidden = view === "table";
    if (!state.run) return;  // a tab clicked before graph.json arrived: start() draws the chosen view
    if (view === "timeline") drawTimeline();
    else if (view === "dag") {
      if (state.dag) { root.replaceChildren(state.dag.svg); root.style.height = state.dagHeight; state.dag.refresh(); root.dataset.drawn = "dag"; }
      else drawDag();
    }
  }

  // --- the step panel ----------------------------------------------------------------------------
  async function select(id, load) {
    state.selected = id;
    setUrl();
    if (state.dag) state.dag.select(id);
    for (const row of root.querySelectorAll(".timeline-row")) row.classList.toggle("selected", row.dataset.node === id);
    if (!load) return;
    try {
      const response = await fetch(Runyard.inProject(`/runs/${runId}/steps/${encodeURIComponent(id)}?partial=1`));
      if (state.selected !== id) return;
      const html = await response.text();
      const doc = new DOMParser().parseFromString(html, "text/html");   // our own escaped template
      panel.replaceChildren(...doc.body.childNodes);
      if (window.RunyardLogs) RunyardLogs.attachAll(panel);
      if (window.matchMedia("(max-width: 980px)").matches) panel.scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (err) {
      panel.textContent = "The step could not be loaded; try again.";
    }
  }

  // --- live updates ------------------------------------------------------------------------------
  async function poll() {
    try {
      const response = await fetch(Runyard.inProject(`/runs/${runId}/status.json`), { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      state.run = body.run;
      let changed = false, selectedChanged = false;
      for (const s of state.steps) {
        const now = body.steps[s.id];
        if (!now) continue;
        const [status, start, end] = now;
        if (status !== s.status || start !== s.start || end !== s.end) {
          changed = true;
          if (s.id === state.selected && status !== s.status) selectedChanged = true;
          Object.assign(s, { status, start, end });
          if (state.dag) state.dag.setClass(s.id, "s-" + status + (s.id === state.selected ? " selected" : ""));
        }
        if (state.dag && s.start != null && s.end == null) state.dag.setSub(s.id, sub(s));
        else if (state.dag && changed) state.dag.setSub(s.id, sub(s));
      }
      if (state.view === "timeline" && (changed || body.run.active)) drawTimeline();
      showRunStatus(body.run.status, body.run.active);
      if (selectedChanged) select(state.selected, true);
      if (!body.run.active) {
        const dur = document.getElementById("run-duration");
        if (dur && body.run.start && body.run.end) dur.textContent = fmtDuration(body.run.end - body.run.start);
        return;
      }
    } catch (err) {
      // keep polling: a restarting server answers again shortly
    }
    setTimeout(poll, POLL_MS);
  }

  // --- cancel ------------------------------------------------------------------------------------
  function showRunStatus(status, active) {
    const badge = document.getElementById("run-status");
    if (badge && badge.firstElementChild?.dataset.status !== status) badge.replaceChildren(Runyard.badge(status));
    const button = document.getElementById("cancel-run");
    if (!button) return;
    if (!active) button.hidden = true;
    else if (status === "cancelling") { button.disabled = true; button.textContent = "Cancelling…"; }
  }

  // POST /api/v1/runs/{id}/cancel, same-origin, with the page's CSRF token (a signed-in browser's cookie
  // session may write only with it); the live poll then follows the run to "cancelled".
  function setupCancel() {
    const button = document.getElementById("cancel-run");
    const note = document.getElementById("cancel-note");
    if (!button) return;
    button.addEventListener("click", async () => {
      if (!window.confirm(`Cancel run ${button.dataset.runName}? Steps running now finish; no new step starts.`)) return;
      button.disabled = true;
      note.hidden = true;
      const token = document.querySelector('meta[name="csrf-token"]')?.content || "";
      try {
        const response = await fetch(`/api/v1/runs/${runId}/cancel`, {
          method: "POST", credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRF-Token": token, "X-Runyard-Project": Runyard.project() },
        });
        const body = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(body.message || "HTTP " + response.status);
        showRunStatus(body.status, body.status !== "cancelled");
      } catch (err) {
        note.textContent = "The run could not be cancelled: " + err.message;
        note.hidden = false;
        button.disabled = false;
      }
    });
  }

  // --- start -------------------------------------------------------------------------------------
  // The page carries the graph inline (no second round trip before the layout can start); graph.json
  // is the fallback, e.g. for a page restored from the back/forward cache long after it was rendered.
  async function graphData() {
    const inline = RunyardGraph.inline();  // parsed by graph.js, which may have started the layout
    if (inline) return inline;
    const response = await fetch(Runyard.inProject(`/runs/${runId}/graph.json`), { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  async function start() {
    setupCancel();
    for (const tab of document.querySelectorAll(".tabs [data-view]")) {
      tab.addEventListener("click", (event) => { event.preventDefault(); showView(tab.dataset.view); setUrl(); });
    }
    for (const button of document.querySelectorAll("[data-zoom]")) {
      button.addEventListener("click", () => {
        if (!state.dag || state.view !== "dag") return;
        const z = button.dataset.zoom;
        if (z === "fit") state.dag.fit(); else state.dag.zoom(z === "in" ? 1.25 : 0.8);
      });
    }
    table.addEventListener("click", (event) => {
      const link = event.target.closest("[data-step-link]");
      if (link && !event.ctrlKey && !event.metaKey) { event.preventDefault(); select(link.dataset.stepLink, true); }
    });
    try {
      const body = await graphData();
      state.run = body.run;
      state.steps = body.steps;
      state.byId = new Map(body.steps.map((s) => [s.id, s]));
    } catch (err) {
      statusText.textContent = "The run's graph could not be loaded (" + err.message + ").";
      return;
    }
    if (!state.steps.length) { statusText.textContent = "This run has no steps."; return; }
    showView(state.view);
    if (state.run.active) setTimeout(poll, POLL_MS);
  }

  // a deferred script runs once the document is parsed: start at once rather than after DOMContentLoaded
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
