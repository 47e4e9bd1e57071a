// Lays out a graph with dagre off the main thread, so a 2,000-node run page stays responsive.
// In: {id, nodes: [{id, width, height}], edges: [[from, to]], rankdir}
// Out: {id, width, height, nodes: {id: [x, y]}, edges: [[from, to, [[x, y], ...]]], ms}
"use strict";
importScripts("/static/vendor/dagre.min.js");

// dagre's default ranker (network simplex) gives the tidiest layers but grows steeply with size
// (minutes at 2,000 nodes). Above BIG nodes "longest-path" ranks instead: the cheapest of dagre's
// rankers (about a quarter less time than "tight-tree" for the whole layout of a 2,000-step run), and a
// pipeline that large is read by its layers, which longest-path keeps.
const BIG = 300;

self.onmessage = (event) => {
  const { id, nodes, edges, rankdir } = event.data;
  const started = Date.now();
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({
    rankdir: rankdir || "LR",
    nodesep: 14,
    ranksep: 46,
    edgesep: 8,
    marginx: 16,
    marginy: 16,
    ranker: nodes.length > BIG ? "longest-path" : "network-simplex",
  });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: n.width, height: n.height });
  for (const [from, to] of edges) {
    if (g.hasNode(from) && g.hasNode(to)) g.setEdge(from, to);
  }
  try {
    dagre.layout(g);
  } catch (err) {
    self.postMessage({ id, error: String(err) });
    return;
  }
  const placed = {};
  for (const name of g.nodes()) {
    const n = g.node(name);
    placed[name] = [n.x, n.y];
  }
  const routed = g.edges().map((e) => [e.v, e.w, g.edge(e).points.map((p) => [p.x, p.y])]);
  const graph = g.graph();
  self.postMessage({ id, width: graph.width, height: graph.height, nodes: placed, edges: routed, ms: Date.now() - started });
};
