// The artifact version page's lineage graph: producer's inputs -> producer -> this version -> consumers -> their outputs.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const container = document.getElementById("lineage-graph");
  if (!container || !window.RunyardGraph) return;
  const status = container.querySelector(".graph-status");
  try {
    const response = await fetch(Runyard.inProject(container.dataset.url), { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const data = await response.json();
    const nodes = data.nodes.map((n) => ({
      id: n.id,
      label: n.label,
      sub: n.sub,
      css: (n.kind === "step" ? "k-step s-" + n.status : "k-artifact") + (n.current ? " current" : ""),
      width: RunyardGraph.nodeWidth(n.label),
      height: 40,
      href: n.href,
    }));
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const placed = await RunyardGraph.layout(nodes, data.edges, "LR");
    container.style.height = Math.min(placed.height + 10, window.innerHeight * 0.6) + "px";
    RunyardGraph.draw(container, nodes, placed, {
      label: "lineage",
      onClick: (id) => { const n = byId.get(id); if (n && n.href) window.location.href = n.href; },
    });
  } catch (err) {
    if (status) status.textContent = "The lineage graph could not be drawn (" + err.message + "); the lists below have the same links.";
  }
});
