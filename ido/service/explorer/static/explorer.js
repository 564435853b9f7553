// The decision explorer's behaviour beyond htmx: the live run page (server-sent events), the plan
// DAG (Cytoscape + dagre, loaded the first time a DAG is shown), what-if highlights on the
// timeline, and the what-if declaration picker. Every file comes from this service.
(function () {
  "use strict";
  // journal event kinds that change what the run page shows
  const KINDS = ["decision", "outcome", "dispatched", "status", "fault", "approval_requested",
                 "approval_given", "revision", "compensated"];
  const VENDOR = "/ui/static/vendor/";
  let source = null;
  let timer = null;
  let graphLibs = null;

  function refreshLive(runId) {
    htmx.ajax("GET", "/runs/" + encodeURIComponent(runId) + "/live", {target: "#live", swap: "outerHTML"});
  }

  function follow() {
    const live = document.getElementById("live");
    if (!live || source || live.dataset.live !== "1") return;
    const runId = live.dataset.run;
    source = new EventSource("/runs/" + encodeURIComponent(runId) + "/events?after=" +
                             encodeURIComponent(live.dataset.after || "0"));
    const soon = function () {
      clearTimeout(timer);
      timer = setTimeout(function () { refreshLive(runId); }, 200);
    };
    KINDS.forEach(function (kind) { source.addEventListener(kind, soon); });
    source.addEventListener("end", function () {
      source.close();
      source = null;
      clearTimeout(timer);
      refreshLive(runId);
    });
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(script);
    });
  }

  function libs() {
    if (!graphLibs) {
      graphLibs = loadScript(VENDOR + "cytoscape/cytoscape.min.js")
        .then(function () { return loadScript(VENDOR + "dagre/dagre.min.js"); })
        .then(function () { return loadScript(VENDOR + "cytoscape-dagre/cytoscape-dagre.js"); });
    }
    return graphLibs;
  }

  function drawDag(box) {
    const graph = JSON.parse(box.dataset.graph);
    libs().then(function () {
      cytoscape({
        container: box,
        elements: graph.elements,
        layout: {name: "dagre", rankDir: "TB", nodeSep: 16, rankSep: 36, padding: 8},
        userZoomingEnabled: true,
        boxSelectionEnabled: false,
        style: [
          {selector: "node", style: {"label": "data(label)", "text-wrap": "wrap", "font-size": 10,
            "text-valign": "center", "shape": "round-rectangle", "width": 150, "height": 42,
            "background-color": "#eef2f7", "border-width": 1, "border-color": "#8795a8", "color": "#1c2430"}},
          {selector: "node.critical", style: {"border-width": 3, "border-color": "#c2410c", "background-color": "#fff3e8"}},
          {selector: "node.sent", style: {"background-color": "#e3f4ea"}},
          {selector: "edge", style: {"width": 1.5, "line-color": "#8795a8", "target-arrow-color": "#8795a8",
            "target-arrow-shape": "triangle", "curve-style": "bezier"}},
          {selector: "edge.critical", style: {"width": 3, "line-color": "#c2410c", "target-arrow-color": "#c2410c"}}
        ]
      });
      box.dataset.drawn = "1";
      box.scrollIntoView({block: "nearest"});
    });
  }

  let chartLib = null;

  function uplot() {
    if (!chartLib) chartLib = loadScript(VENDOR + "uplot/uPlot.iife.min.js");
    return chartLib;
  }

  const COLOURS = {"adaptive": "#1b9e77", "static": "#d95f02", "static-fallback": "#7570b3"};

  function plot(box, options, data) {
    options.width = Math.max(320, Math.min(1100, box.clientWidth || 900));
    options.height = 220;
    new uPlot(options, data, box);
    box.dataset.drawn = "1";
  }

  function drawHealth(section) {
    const chart = JSON.parse(section.dataset.health);
    uplot().then(function () {
      plot(document.getElementById("health-rate"), {
        series: [{}, {label: "success rate", stroke: "#1b9e77", width: 2},
                 {label: "circuit (0 closed, 1 half-open, 2 open)", stroke: "#c2410c", width: 2, scale: "circuit",
                  paths: uPlot.paths.stepped({align: 1})}],
        axes: [{}, {label: "success rate"}, {side: 1, scale: "circuit", label: "circuit", grid: {show: false}}],
        scales: {y: {range: [0, 1]}, circuit: {range: [0, 2]}}
      }, [chart.seen[0], chart.seen[1], chart.seen[3]]);
      const times = chart.seen[0].concat(chart.outcomes[0]);
      const order = times.map(function (t, i) { return [t, i]; }).sort(function (x, y) { return x[0] - y[0]; });
      const n = chart.seen[0].length;
      const xs = [], seen = [], outcome = [];
      order.forEach(function (pair) {
        xs.push(pair[0]);
        if (pair[1] < n) { seen.push(chart.seen[2][pair[1]]); outcome.push(null); }
        else { seen.push(null); outcome.push(chart.outcomes[1][pair[1] - n]); }
      });
      plot(document.getElementById("health-latency"), {
        series: [{}, {label: "latency decisions saw (s)", stroke: "#1d4ed8", width: 2, spanGaps: true},
                 {label: "outcome latency (s)", stroke: "#7570b3", width: 0, points: {show: true, size: 6}}],
        axes: [{}, {label: "seconds"}]
      }, [xs, seen, outcome]);
    });
  }

  function drawSimulation(section) {
    const chart = JSON.parse(section.dataset.simulation);
    const names = Object.keys(chart.series);
    if (!names.length) return;
    uplot().then(function () {
      const xs = chart.series[names[0]][0];
      const series = [{label: "arrival (s)"}];
      names.forEach(function (name) { series.push({label: name, stroke: COLOURS[name] || "#666", width: 2}); });
      const timeAxis = {scales: {x: {time: false}}};
      plot(document.getElementById("simulation-success"), Object.assign({
        series: series.map(function (s) { return Object.assign({}, s); }),
        axes: [{label: "arrival time (simulated s)"}, {label: "success rate"}]
      }, {scales: {x: {time: false}, y: {range: [0, 1.05]}}}), [xs].concat(names.map(function (name) { return chart.series[name][1]; })));
      plot(document.getElementById("simulation-latency"), Object.assign({
        series: series.map(function (s) { return Object.assign({}, s); }),
        axes: [{label: "arrival time (simulated s)"}, {label: "latency p50 (s)"}]
      }, timeAxis), [xs].concat(names.map(function (name) { return chart.series[name][2]; })));
    });
  }

  function markWhatIf(answer) {
    document.querySelectorAll(".decision.would-change").forEach(function (li) {
      li.classList.remove("would-change");
      const note = li.querySelector(".what-if-note");
      if (note) { note.hidden = true; note.textContent = ""; }
    });
    const changed = JSON.parse(answer.dataset.changed || "[]");
    const notes = JSON.parse(answer.dataset.notes || "{}");
    changed.forEach(function (seq) {
      const li = document.getElementById("d" + seq);
      if (!li) return;
      li.classList.add("would-change");
      const note = li.querySelector(".what-if-note");
      if (note) { note.hidden = false; note.textContent = "What-if: " + (notes[String(seq)] || "would change"); }
    });
  }

  function within(root, selector) {
    const found = Array.from(root.querySelectorAll ? root.querySelectorAll(selector) : []);
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  function pickDeclaration(event) {
    const option = event.target.selectedOptions[0];
    const text = document.getElementById("what-if-yaml");
    if (option && text) text.value = option.dataset.yaml || "";
  }

  document.addEventListener("DOMContentLoaded", function () {
    const pick = document.getElementById("what-if-pick");
    if (pick) pick.addEventListener("change", pickDeclaration);
    const health = document.getElementById("health-chart");
    if (health) drawHealth(health);
    follow();
  });

  document.addEventListener("htmx:load", function (event) {
    const root = event.detail.elt;
    within(root, ".dag[data-graph]").forEach(function (box) { if (!box.dataset.drawn) drawDag(box); });
    within(root, ".what-if-answer").forEach(markWhatIf);
    within(root, "[data-simulation]").forEach(drawSimulation);
    within(root, "[data-acted='1']").forEach(function () {
      const live = document.getElementById("live");
      if (live) { refreshLive(live.dataset.run); }
    });
    if (root.id === "live") follow();
  });
})();
