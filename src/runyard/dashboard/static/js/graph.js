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
  function layout(nodes, edges, rankdir) {
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
      worker.postMessage({ id, nodes: nodes.map((n) => ({ id: n.id, width: n.width, height: n.height })), edges, rankdir });
    });
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

  // nodes: [{id, label, sub, css, width, height}]; returns a handle to restyle, select and zoom.
  function draw(container, nodes, placed, options) {
    const opts = options || {};
    const svg = el("svg", { width: placed.width, height: placed.height, viewBox: `0 0 ${placed.width} ${placed.height}`, role: "img", "aria-label": opts.label || "graph" });
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9aa4b2" }, marker);
    const edgeLayer = el("g", { class: "edges" }, svg);
    for (const [, , points] of placed.edges) el("path", { d: path(points), class: "edge", "marker-end": "url(#arrow)" }, edgeLayer);
    const nodeLayer = el("g", { class: "nodes" }, svg);
    const groups = new Map();
    for (const n of nodes) {
      const pos = placed.nodes[n.id];
      if (!pos) continue;
      const g = el("g", { class: "node " + (n.css || ""), transform: `translate(${(pos[0] - n.width / 2).toFixed(1)},${(pos[1] - n.height / 2).toFixed(1)})`, "data-node": n.id, tabindex: "0", role: "button" }, nodeLayer);
      el("rect", { width: n.width, height: n.height, rx: 6 }, g);
      const title = el("text", { x: 10, y: n.sub !== undefined ? 16 : n.height / 2 + 4 }, g);
      title.textContent = clip(n.label, (n.width - 16) / 7);
      if (n.sub !== undefined) {
        const sub = el("text", { x: 10, y: 30, class: "sub" }, g);
        sub.textContent = clip(n.sub, (n.width - 16) / 6);
      }
      const tip = el("title", {}, g);
      tip.textContent = n.label;
      groups.set(n.id, g);
    }
    const activate = (event) => {
      const g = event.target.closest("[data-node]");
      if (g && opts.onClick) opts.onClick(g.dataset.node, event);
    };
    svg.addEventListener("click", activate);
    svg.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); activate(event); } });
    container.replaceChildren(svg);

    let scale = 1;
    const handle = {
      svg,
      groups,
      setClass(id, css) {
        const g = groups.get(id);
        if (g) g.setAttribute("class", "node " + css);
      },
      setSub(id, text) {
        const g = groups.get(id);
        const sub = g && g.querySelector(".sub");
        const width = g ? Number(g.querySelector("rect").getAttribute("width")) : 0;
        if (sub) {
          const clipped = clip(text, (width - 16) / 6);
          if (sub.textContent !== clipped) sub.textContent = clipped;
        }
      },
      select(id) {
        for (const g of container.querySelectorAll(".node.selected")) g.classList.remove("selected");
        const g = groups.get(id);
        if (g) g.classList.add("selected");
      },
      zoom(factor) { handle.setScale(scale * factor); },
      setScale(value) {
        scale = Math.max(0.05, Math.min(3, value));
        svg.setAttribute("width", (placed.width * scale).toFixed(0));
        svg.setAttribute("height", (placed.height * scale).toFixed(0));
      },
      fit() {
        const w = container.clientWidth - 4, h = container.clientHeight - 4;
        handle.setScale(Math.min(1, w / placed.width, h > 40 ? h / placed.height : 1));
      },
      reveal(id) {
        const pos = placed.nodes[id];
        if (!pos) return;
        container.scrollTo({ left: pos[0] * scale - container.clientWidth / 2, top: pos[1] * scale - container.clientHeight / 2 });
      },
    };
    return handle;
  }

  window.RunyardGraph = { layout, draw, nodeWidth, el };
})();
