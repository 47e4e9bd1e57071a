// Every page: the phone menu, and live status of the runs tables while any run is unfinished.
"use strict";

(function () {
  const ACTIVE = new Set(["initializing", "queued", "running", "cancelling"]);
  const POLL_MS = 3000;

  function setupMenu() {
    const toggle = document.querySelector(".nav-toggle");
    const nav = document.getElementById("nav");
    if (!toggle || !nav) return;
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  function badge(status) {
    const span = document.createElement("span");
    span.className = "status status-" + status;
    span.dataset.status = status;
    span.textContent = status;
    return span;
  }

  // The page's project (base.html's meta tag). The dashboard's own feeds get it as ?project= (a fetch never
  // moves the cookie, so a tab keeps its project while another tab switches); the API gets it as its
  // X-Runyard-Project header.
  function project() {
    return document.querySelector('meta[name="runyard-project"]')?.content || "default";
  }

  function inProject(url) {
    return url + (url.includes("?") ? "&" : "?") + "project=" + encodeURIComponent(project());
  }

  // Polls /runs/status.json for the rows still running; stops once none is.
  function setupLiveRuns() {
    const rows = () => Array.from(document.querySelectorAll("table[data-live-runs] tr[data-run-id]"));
    const activeIds = () => rows()
      .filter((tr) => ACTIVE.has((tr.querySelector("[data-status]") || {}).dataset?.status))
      .map((tr) => tr.dataset.runId);
    async function poll() {
      const ids = Array.from(new Set(activeIds()));
      if (!ids.length || document.hidden) {
        if (ids.length) setTimeout(poll, POLL_MS);
        return;
      }
      try {
        const response = await fetch(inProject("/runs/status.json?ids=" + ids.join(",")), { headers: { Accept: "application/json" } });
        if (response.ok) {
          const body = await response.json();
          for (const tr of rows()) {
            const state = body.runs[tr.dataset.runId];
            if (!state) continue;
            const cell = tr.querySelector(".run-status");
            if (cell && cell.firstElementChild?.dataset.status !== state.status) cell.replaceChildren(badge(state.status));
            const dur = tr.querySelector(".run-duration");
            if (dur && !state.active) dur.textContent = state.duration;
          }
        }
      } catch (err) {
        // the server restarts or the network blips: try again on the next tick
      }
      setTimeout(poll, POLL_MS);
    }
    if (activeIds().length) setTimeout(poll, POLL_MS);
  }

  window.Runyard = window.Runyard || {};
  window.Runyard.badge = badge;
  window.Runyard.project = project;
  window.Runyard.inProject = inProject;
  document.addEventListener("DOMContentLoaded", () => {
    setupMenu();
    setupLiveRuns();
  });
})();
