// Draws a graph laid out by dagre (in layout-worker.js) as SVG: nodes coloured by status, zoom, fit.
// Shared by the run page (the step DAG) and the artifact page (lineage).
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  let worker = null;
  let nextId = 1;
  const waiting = new Map();

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  // One worker per page; each request gets an id so answers cannot be confused.
  function workerLayout(request) {
    if (!worker) {
      worker = new Worker("/static/js/layout-worker.js");
      worker.onmessage = (event) => {
        const done = waiting.get(event.data.id);
        waiting.delete(event.data.id);
        if (done) (event.data.error ? done.reject(new Error(event.data.error)) : done.resolve(event.data));
      };
      worker.onerror = (event) => {
        for (const done of waiting.values()) done.reject(new Error(event.message || "layout failed"));
        waiting.clear();
      };
    }
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, ...request });
    });
  }

  // A big graph's layout is kept in this browser, keyed by the graph's shape: every run of the same
  // pipeline (and every later visit) is drawn without laying it out again. Small graphs take a few ms.
  const CACHE_ABOVE = 300, CACHE_KEEP = 12, CACHE_VERSION = "1";
  const CACHE_INDEX = "runyard.layouts";

  function shapeKey(request) {
    const text = JSON.stringify([CACHE_VERSION, request.rankdir, request.nodes, request.edges]);
    let h1 = 0x811c9dc5, h2 = 0x01000193;  // two FNV-1a style hashes: 64 bits, collisions are not a concern
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 16777619);
      h2 = Math.imul(h2 ^ c, 2246822519);
    }
    return "runyard.layout." + (h1 >>> 0).toString(36) + (h2 >>> 0).toString(36) + "." + text.length;
  }

  function cached(key) {
    try {
      const text = window.localStorage.getItem(key);
      return text ? JSON.parse(text) : null;
    } catch (err) {
      return null;  // storage disabled or a damaged entry: lay out again
    }
  }

  function remember(key, placed) {
    try {
      const index = (JSON.parse(window.localStorage.getItem(CACHE_INDEX) || "[]") || []).filter((k) => k !== key);
      index.push(key);
      while (index.length > CACHE_KEEP) window.localStorage.removeItem(index.shift());
      window.localStorage.setItem(key, JSON.stringify(placed));
      window.localStorage.setItem(CACHE_INDEX, JSON.stringify(index));
    } catch (err) {
      // full or disabled storage: the layout simply is not kept
    }
  }

  const inflight = new Map();  // shape key -> the layout promise, so an early request is answered once

  function layout(nodes, edges, rankdir) {
    const request = { nodes: nodes.map((n) => ({ id: n.id, width: n.width, height: n.height })), edges, rankdir };
    const key = nodes.length > CACHE_ABOVE ? shapeKey(request) : null;
    if (key && inflight.has(key)) return inflight.get(key);
    const hit = key && cached(key);
    const answer = hit ? Promise.resolve({ ...hit, ms: 0, cached: true }) : workerLayout(request).then((placed) => {
      performance.mark("runyard:worker-answered");
      if (key) remember(key, { width: placed.width, height: placed.height, nodes: placed.nodes, edges: placed.edges });
      return placed;
    });
    if (key) inflight.set(key, answer);
    return answer;
  }

  // A run's steps as layout input: [{id, width, height}] and [[upstream, step]] (the run page and the
  // early start below must build the very same request, so they share this).
  function stepGraph(steps) {
    const nodes = steps.map((s) => ({ id: s.id, width: nodeWidth(s.id), height: 40 }));
    const edges = [];
    for (const s of steps) for (const up of s.up) edges.push([up, s.id]);
    return { nodes, edges };
  }

  function nodeWidth(label) {
    return Math.min(260, Math.max(150, label.length * 7 + 30));
  }

  // text never spills out of its box: the box is what a click hits
  function clip(text, chars) {
    const max = Math.max(Math.floor(chars), 4);
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  function path(points) {
    return points.map((p, i) => (i ? "L" : "M") + p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
  }

  // Above this many nodes only the boxes in (or near) the viewport are in the DOM, and all edges are
  // one path: 2,000 nodes as 10,000 SVG elements cost the browser about a second of style and layout.
  const VIRTUAL_ABOVE = 300;
  const MARGIN = 400;  // graph units drawn beyond the viewport, so a scroll rarely shows an empty strip

  function nodeElement(n, pos, selected) {
    const g = el("g", { class: "node " + (n.css || "") + (selected ? " selected" : ""), transform: `translate(${(pos[0] - n.width / 2).toFixed(1)},${(pos[1] - n.height / 2).toFixed(1)})`, "data-node": n.id, tabindex: "0", role: "button" });
    el("rect", { width: n.width, height: n.height, rx: 6 }, g);
    const title = el("text", { x: 10, y: n.sub !== undefined ? 16 : n.height / 2 + 4 }, g);
    title.textContent = clip(n.label, (n.width - 16) / 7);
    if (n.sub !== undefined) {
      const sub = el("text", { x: 10, y: 30, class: "sub" }, g);
      sub.textContent = clip(n.sub, (n.width - 16) / 6);
    }
    const tip = el("title", {}, g);
    tip.textContent = n.label;
    return g;
  }

  // every edge in one path, and every arrowhead (a triangle at the last segment's end) in another
  function bulkEdges(edges, parent) {
    const lines = [], heads = [];
    for (const [, , points] of edges) {
      if (points.length < 2) continue;
      lines.push(path(points));
      const [x1, y1] = points[points.length - 2], [x2, y2] = points[points.length - 1];
      const len = Math.hypot(x2 - x1, y2 - y1) || 1, dx = (x2 - x1) / len, dy = (y2 - y1) / len;
      const bx = x2 - dx * 7, by = y2 - dy * 7;
      heads.push(`M${x2.toFixed(1)},${y2.toFixed(1)}L${(bx - dy * 3.5).toFixed(1)},${(by + dx * 3.5).toFixed(1)}L${(bx + dy * 3.5).toFixed(1)},${(by - dx * 3.5).toFixed(1)}Z`);
    }
    el("path", { d: lines.join(""), class: "edge" }, parent);
    el("path", { d: heads.join(""), class: "arrowheads" }, parent);
  }

  // nodes: [{id, label, sub, css, width, height}]; returns a handle to restyle, select and zoom.
  function draw(container, nodes, placed, options) {
    const opts = options || {};
    const virtual = nodes.length > VIRTUAL_ABOVE;
    const svg = el("svg", { width: placed.width, height: placed.height, viewBox: `0 0 ${placed.width} ${placed.height}`, role: "img", "aria-label": opts.label || "graph" });
    const edgeLayer = el("g", { class: "edges" }, svg);
    if (virtual) {
      bulkEdges(placed.edges, edgeLayer);
    } else {
      const defs = el("defs", {}, svg);
      svg.insertBefore(defs, edgeLayer);
      const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9aa4b2" }, marker);
      for (const [, , points] of placed.edges) el("path", { d: path(points), class: "edge", "marker-end": "url(#arrow)" }, edgeLayer);
    }
    const nodeLayer = el("g", { class: "nodes" }, svg);
    const byId = new Map(nodes.filter((n) => placed.nodes[n.id]).map((n) => [n.id, n]));
    const groups = new Map();  // the nodes now in the DOM (all of them unless virtual)
    let selected = "";
    let scale = 1;

    function show(n) {
      const g = nodeElement(n, placed.nodes[n.id], n.id === selected);
      nodeLayer.appendChild(g);
      groups.set(n.id, g);
    }
    // virtual: add the boxes that come into view, drop those far outside it
    function renderVisible(view) {
      if (!virtual || !svg.isConnected) return;
      const v = view || { left: container.scrollLeft, top: container.scrollTop, width: container.clientWidth, height: container.clientHeight };
      const left = v.left / scale - MARGIN, top = v.top / scale - MARGIN;
      const right = left + v.width / scale + 2 * MARGIN, bottom = top + v.height / scale + 2 * MARGIN;
      for (const n of byId.values()) {
        const [x, y] = placed.nodes[n.id];
        const inView = x + n.width / 2 > left && x - n.width / 2 < right && y + n.height / 2 > top && y - n.height / 2 < bottom;
        const g = groups.get(n.id);
        if (inView && !g) show(n);
        else if (!inView && g && g !== document.activeElement) { g.remove(); groups.delete(n.id); }
      }
    }
    let queued = false;
    container.addEventListener("scroll", () => {
      if (queued || !virtual) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; renderVisible(); });
    }, { passive: true });

    const activate = (event) => {
      const g = event.target.closest("[data-node]");
      if (g && opts.onClick) opts.onClick(g.dataset.node, event);
    };
    svg.addEventListener("click", activate);
    svg.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); activate(event); } });
    // the first picture: scale, selection and scroll position are set before the drawing is measured
    const frame = opts.frame || { width: container.clientWidth, height: container.clientHeight };
    scale = Math.max(0.05, Math.min(3, opts.scale || 1));
    selected = opts.selected || "";
    svg.setAttribute("width", (placed.width * scale).toFixed(0));
    svg.setAttribute("height", (placed.height * scale).toFixed(0));
    if (!virtual) for (const n of byId.values()) show(n);
    container.replaceChildren(svg);
    const at = opts.focus && placed.nodes[opts.focus];
    const start = { left: 0, top: 0, width: frame.width, height: frame.height };
    if (at) {
      start.left = Math.max(0, Math.min(at[0] * scale - frame.width / 2, placed.width * scale - frame.width));
      start.top = Math.max(0, Math.min(at[1] * scale - frame.height / 2, placed.height * scale - frame.height));
    }
    renderVisible(start);
    container.scrollLeft = start.left;  // writes only: the browser lays the page out once, after this
    container.scrollTop = start.top;

    const handle = {
      svg,
      groups,
      virtual,
      setClass(id, css) {
        const n = byId.get(id);
        if (n) n.css = css.replace(/\bselected\b/, "").trim();
        const g = groups.get(id);
        if (g) g.setAttribute("class", "node " + css);
      },
      setSub(id, text) {
        const n = byId.get(id);
        if (!n) return;
        n.sub = text;
        const sub = groups.get(id)?.querySelector(".sub");
        if (sub) {
          const clipped = clip(text, (n.width - 16) / 6);
          if (sub.textContent !== clipped) sub.textContent = clipped;
        }
      },
      select(id) {
        selected = id;
        for (const g of container.querySelectorAll(".node.selected")) g.classList.remove("selected");
        const g = groups.get(id);
        if (g) g.classList.add("selected");
      },
      zoom(factor) { handle.setScale(scale * factor); },
      setScale(value) {
        scale = Math.max(0.05, Math.min(3, value));
        svg.setAttribute("width", (placed.width * scale).toFixed(0));
        svg.setAttribute("height", (placed.height * scale).toFixed(0));
        renderVisible();
      },
      fit() {
        const w = container.clientWidth - 4, h = container.clientHeight - 4;
        handle.setScale(Math.min(1, w / placed.width, h > 40 ? h / placed.height : 1));
      },
      reveal(id) {
        const pos = placed.nodes[id];
        if (!pos) return;
        container.scrollTo({ left: pos[0] * scale - container.clientWidth / 2, top: pos[1] * scale - container.clientHeight / 2 });
        renderVisible();
      },
      // after the container is shown again (the view tabs): its size and scroll may differ
      refresh: renderVisible,
    };
    return handle;
  }

  // The run page puts its graph just before this script, which it loads without `defer`: a big run's
  // layout starts (worker, dagre) while the browser still parses the rest of the page.
  let inline = null;
  const data = document.getElementById("run-graph-data");
  if (data && data.textContent) {
    try {
      inline = JSON.parse(data.textContent);
      if (inline.steps.length > CACHE_ABOVE) {
        const { nodes, edges } = stepGraph(inline.steps);
        performance.mark("runyard:layout-start");
        layout(nodes, edges, "LR").catch(() => {});  // run.js asks again and reports a failure
      }
    } catch (err) {
      inline = null;  // run.js falls back to graph.json
    }
  }

  window.RunyardGraph = { layout, draw, nodeWidth, el, stepGraph, inline: () => inline };
})();
