/// The web view at `/`: one page, its style and script inline (no CDN, no build step, no
/// framework). It draws the DAG as SVG from `/api/v1/status`, follows `/api/v1/events`, and
/// lists recent jobs (a click shows a job's logs) and failures. Kept as a Swift string so the
/// binary carries it without resource bundles (SwiftPM resources need `Bundle.module` and a
/// bundle folder beside the executable, which a copied `hypha` binary would lose).
enum WebPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Hypha</title>
<style>
  :root { --bg:#f6f7f9; --panel:#fff; --ink:#1d2430; --dim:#6b7585; --line:#d5dae2;
          --run:#2e9d5b; --fail:#d64545; --idle:#8a94a6; --src:#3b6fd4; --done:#5a6b85; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; gap:1.5em; align-items:baseline; padding:.8em 1.2em; background:#1d2430; color:#fff; }
  header h1 { font-size:1.2em; margin:0; }
  header .dim { color:#aab3c2; }
  main { display:grid; grid-template-columns: minmax(0,3fr) minmax(0,2fr); gap:1em; padding:1em; }
  section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:.8em 1em; min-width:0; }
  section h2 { font-size:1em; margin:0 0 .6em; }
  #graph-section { grid-column: 1 / span 2; }
  svg { width:100%; display:block; }
  .node rect { stroke:#1d2430; stroke-width:1; rx:6; }
  .node text { fill:#fff; font-size:11px; }
  .node text.id { font-weight:600; font-size:13px; }
  .edge path { fill:none; stroke:#8a94a6; stroke-width:1.5; }
  .edge text { font-size:11px; fill:var(--dim); }
  table { width:100%; border-collapse:collapse; font-size:13px; }
  th, td { text-align:left; padding:.25em .5em; border-bottom:1px solid var(--line); white-space:nowrap; }
  td.wrap { white-space:normal; word-break:break-all; }
  th { color:var(--dim); font-weight:500; }
  .num { text-align:right; font-variant-numeric: tabular-nums; }
  .state-running { color:var(--run); font-weight:600; }
  .state-failed { color:var(--fail); font-weight:600; }
  .state-completed { color:var(--done); }
  .state-interrupted { color:#b7791f; }
  a.logs { color:var(--src); cursor:pointer; text-decoration:underline; }
  pre { background:#11161f; color:#e6e9ef; padding:.6em; border-radius:4px; max-height:22em; overflow:auto; font-size:12px; white-space:pre-wrap; }
  .scroll { max-height: 26em; overflow:auto; }
  #log-section { grid-column: 1 / span 2; display:none; }
  .legend span { margin-right:1em; }
  .legend i { display:inline-block; width:.8em; height:.8em; border-radius:2px; margin-right:.3em; vertical-align:-1px; }
  #error { color:var(--fail); }
</style>
</head>
<body>
<header>
  <h1 id="title">Hypha</h1>
  <span id="run" class="dim"></span>
  <span id="phase"></span>
  <span id="uptime" class="dim"></span>
  <span id="error"></span>
</header>
<main>
  <section id="graph-section">
    <h2>Workflow</h2>
    <div class="legend">
      <span><i style="background:var(--src)"></i>source</span><span><i style="background:var(--run)"></i>working</span>
      <span><i style="background:var(--idle)"></i>idle</span><span><i style="background:var(--fail)"></i>failures</span>
      <span class="dim">edges: port type · queued messages</span>
    </div>
    <svg id="graph" role="img" aria-label="workflow graph"></svg>
  </section>
  <section>
    <h2>Jobs <span id="jobs-source" class="dim"></span></h2>
    <div class="scroll"><table id="jobs"><thead><tr><th>job</th><th>node</th><th>state</th><th class="num">seconds</th><th>file</th><th></th></tr></thead>
      <tbody></tbody></table></div>
  </section>
  <section>
    <h2>Nodes</h2>
    <table id="nodes"><thead><tr><th>node</th><th>plugin</th><th class="num">in</th><th class="num">out</th>
      <th class="num">failed</th><th class="num">in/s</th><th class="num">queue</th><th class="num">running</th></tr></thead>
      <tbody></tbody></table>
    <h2 style="margin-top:1em">Failures</h2>
    <div id="retry" class="dim"></div>
    <div id="retry-answer"></div>
    <table id="failures"><thead><tr><th>node</th><th>reason</th><th>file</th><th></th></tr></thead><tbody></tbody></table>
  </section>
  <section id="log-section">
    <h2>Logs of <span id="log-job"></span> <a class="logs" id="log-close">close</a></h2>
    <div class="dim">stdout</div><pre id="log-stdout"></pre>
    <div class="dim">stderr</div><pre id="log-stderr"></pre>
  </section>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const headers = token ? { Authorization: "Bearer " + token } : {};
const state = { status: null, previous: null, previousAt: 0, rates: {}, layout: null, logJob: null, streaming: false };

function el(tag, attrs, text) {
  const ns = ["svg", "rect", "text", "path", "g", "title"].includes(tag) ? "http://www.w3.org/2000/svg" : null;
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function getJSON(path) {
  const response = await fetch(path, { headers, cache: "no-store" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

function layout(nodes) {
  const depth = {};
  for (const n of nodes) depth[n.id] = n.from.length ? Math.max(...n.from.map(f => (depth[f] ?? 0) + 1)) : 0;
  const columns = {};
  for (const n of nodes) (columns[depth[n.id]] = columns[depth[n.id]] || []).push(n.id);
  const pos = {}, W = 200, H = 56, GX = 80, GY = 40;
  let rows = 1;
  for (const [d, ids] of Object.entries(columns)) {
    rows = Math.max(rows, ids.length);
    ids.forEach((id, i) => { pos[id] = { x: 20 + d * (W + GX), y: 30 + i * (H + GY) }; });
  }
  const cols = Object.keys(columns).length;
  return { pos, W, H, width: 40 + cols * W + (cols - 1) * GX, height: 50 + rows * H + (rows - 1) * GY };
}

function nodeColour(n) {
  if (n.failed > 0) return "var(--fail)";
  if (n.kind === "source") return "var(--src)";
  if (n.active > 0 || (n.queue_depth || 0) > 0) return "var(--run)";
  return "var(--idle)";
}

function drawGraph(status) {
  const svg = document.getElementById("graph");
  const L = state.layout || (state.layout = layout(status.nodes));
  svg.setAttribute("viewBox", `0 0 ${L.width} ${L.height}`);
  svg.style.maxHeight = L.height + "px";
  svg.replaceChildren();
  const byId = Object.fromEntries(status.nodes.map(n => [n.id, n]));
  for (const n of status.nodes) {
    for (const f of n.from) {
      const a = L.pos[f], b = L.pos[n.id];
      if (!a || !b) continue;
      const x1 = a.x + L.W, y1 = a.y + L.H / 2, x2 = b.x, y2 = b.y + L.H / 2, mx = (x1 + x2) / 2;
      const g = el("g", { class: "edge", "data-from": f, "data-to": n.id });
      g.appendChild(el("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
      const port = (byId[f] && byId[f].output) || "?";
      const depth = n.queue_depth == null ? "" : ` · ${n.queue_depth}`;
      g.appendChild(el("text", { x: mx, y: (y1 + y2) / 2 - 6, "text-anchor": "middle" }, port + depth));
      svg.appendChild(g);
    }
  }
  for (const n of status.nodes) {
    const p = L.pos[n.id];
    const g = el("g", { class: "node", "data-node": n.id });
    g.appendChild(el("title", {}, `${n.id} (${n.plugin})`));
    g.appendChild(el("rect", { x: p.x, y: p.y, width: L.W, height: L.H, fill: nodeColour(n) }));
    g.appendChild(el("text", { x: p.x + 10, y: p.y + 20, class: "id" }, n.id));
    const counts = n.kind === "source" ? `${n.plugin} · out ${n.emitted}` : `${n.plugin} · in ${n.received} · out ${n.emitted}`;
    g.appendChild(el("text", { x: p.x + 10, y: p.y + 38 }, counts + (n.failed ? ` · ✗ ${n.failed}` : "")));
    svg.appendChild(g);
  }
}

function drawNodes(status) {
  const now = performance.now();
  if (state.previous && now - state.previousAt > 500) {
    const dt = (now - state.previousAt) / 1000;
    for (const n of status.nodes) {
      const before = state.previous[n.id];
      const count = n.kind === "source" ? n.emitted : n.received;
      if (before !== undefined) state.rates[n.id] = Math.max(0, (count - before) / dt);
    }
  }
  if (!state.previous || now - state.previousAt > 500) {
    state.previous = Object.fromEntries(status.nodes.map(n => [n.id, n.kind === "source" ? n.emitted : n.received]));
    state.previousAt = now;
  }
  const body = document.querySelector("#nodes tbody");
  body.replaceChildren(...status.nodes.map(n => {
    const tr = el("tr", { "data-node": n.id });
    const queue = n.queue_depth == null ? "" : `${n.queue_depth}/${n.queue_capacity}`;
    const rate = state.rates[n.id];
    for (const [v, c] of [[n.id], [n.plugin], [n.kind === "source" ? "" : n.received, "num"], [n.emitted, "num"],
                          [n.failed, "num"], [rate === undefined ? "" : rate.toFixed(1), "num"], [queue, "num"],
                          [n.jobs_running ?? "", "num"]]) tr.appendChild(el("td", c ? { class: c } : {}, String(v)));
    return tr;
  }));
}

function drawHeader(status) {
  document.getElementById("title").textContent = status.workflow.name;
  document.title = "Hypha · " + status.workflow.name;
  document.getElementById("run").textContent = "run " + status.run_id;
  document.getElementById("phase").textContent = status.finished ? "finished" : "running";
  document.getElementById("uptime").textContent = Math.round(status.uptime_seconds) + " s";
}

function showStatus(status) {
  state.status = status;
  drawHeader(status);
  drawGraph(status);
  drawNodes(status);
  document.getElementById("error").textContent = "";
}

async function refreshJobs() {
  const data = await getJSON("/api/v1/jobs?limit=100");
  document.getElementById("jobs-source").textContent = "(" + data.source + ")";
  const body = document.querySelector("#jobs tbody");
  body.replaceChildren(...data.jobs.map(j => {
    const tr = el("tr", { "data-job": j.name, "data-state": j.state });
    tr.appendChild(el("td", { class: "wrap" }, j.name));
    tr.appendChild(el("td", {}, j.node));
    tr.appendChild(el("td", { class: "state-" + j.state }, j.state));
    tr.appendChild(el("td", { class: "num" }, j.duration == null ? "" : j.duration.toFixed(2)));
    tr.appendChild(el("td", {}, j.file ? j.file.split("/").pop() : ""));
    const cell = el("td");
    const link = el("a", { class: "logs" }, "logs");
    link.addEventListener("click", () => showLogs(j.name));
    cell.appendChild(link);
    tr.appendChild(cell);
    return tr;
  }));
}

async function fetchText(path) {
  const response = await fetch(path, { headers, cache: "no-store" });
  return response.ok ? response.text() : "(" + response.status + ")";
}

async function showLogs(name) {
  state.logJob = name;
  document.getElementById("log-section").style.display = "block";
  document.getElementById("log-job").textContent = name;
  const base = "/api/v1/jobs/" + encodeURIComponent(name) + "/logs";
  const [out, err] = await Promise.all([fetchText(base), fetchText(base + "?stream=stderr")]);
  if (state.logJob !== name) return;
  document.getElementById("log-stdout").textContent = out || "(empty)";
  document.getElementById("log-stderr").textContent = err || "(empty)";
}

async function refreshFailures() {
  const data = await getJSON("/api/v1/dead-letters");
  const rows = data.dead_letters.map(d => ({ id: d.id, node: d.node, reason: d.reason, file: d.file }));
  if (!data.state && state.status) {
    for (const f of state.status.failures) rows.push({ node: f.node, reason: f.message, file: null });
  }
  document.getElementById("retry").textContent = rows.length && data.retry ? "retry one here, or all of them with Hypha stopped: " + data.retry : "";
  const body = document.querySelector("#failures tbody");
  body.replaceChildren(...rows.slice(-50).reverse().map(r => {
    const tr = el("tr");
    tr.appendChild(el("td", {}, r.node));
    tr.appendChild(el("td", { class: "wrap" }, r.reason));
    tr.appendChild(el("td", { class: "wrap" }, r.file ? r.file.split("/").pop() : ""));
    const cell = el("td");
    if (r.id !== undefined) {
      const button = el("button", { class: "retry", "data-id": String(r.id) }, "retry");
      button.addEventListener("click", () => retryLetter(r.id, button).catch(report));
      cell.appendChild(button);
    }
    tr.appendChild(cell);
    return tr;
  }));
}

// Runs a dead letter again in this run; its row goes once it has gone through.
async function retryLetter(id, button) {
  button.disabled = true;
  const response = await fetch("/api/v1/dead-letters/" + id + "/retry",
                               { method: "POST", headers: { ...headers, "X-Hypha-Request": "retry" } });
  const answer = await response.json().catch(() => ({}));
  document.getElementById("retry-answer").textContent = response.ok
    ? "dead letter #" + id + " is running again"
    : "dead letter #" + id + ": " + (answer.error || "HTTP " + response.status);
  if (!response.ok) button.disabled = false;
  setTimeout(() => refreshFailures().catch(report), 1000);
}

let jobsPending = false;
function jobsSoon() {
  if (jobsPending) return;
  jobsPending = true;
  setTimeout(() => { jobsPending = false; refreshJobs().catch(report); }, 250);
}

function report(error) { document.getElementById("error").textContent = String(error.message || error); }

// Follows the events stream while it lasts; meanwhile the page does not poll.
async function followEvents() {
  if (state.streaming) return;
  state.streaming = true;
  try {
    await readEvents();
  } finally {
    state.streaming = false;
  }
}

async function readEvents() {
  const response = await fetch("/api/v1/events", { headers, cache: "no-store" });
  if (!response.ok || !response.body) throw new Error("events: HTTP " + response.status);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let type = "message", data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("event: ")) type = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (!data) continue;
      const payload = JSON.parse(data);
      if (type === "nodes") showStatus(payload);
      else if (type === "job") jobsSoon();
      else if (type === "failure") refreshFailures().catch(report);
      else if (type === "run") { jobsSoon(); refreshFailures().catch(report); }
    }
  }
}

document.getElementById("log-close").addEventListener("click", () => {
  state.logJob = null;
  document.getElementById("log-section").style.display = "none";
});

async function start() {
  showStatus(await getJSON("/api/v1/status"));
  await Promise.all([refreshJobs(), refreshFailures()]);
  followEvents().catch(() => {});
  // Polling while there is no events stream (a proxy may cut it, a restarted run ends it),
  // and trying to follow it again.
  setInterval(() => {
    if (state.streaming) return;
    followEvents().catch(() => {});
    getJSON("/api/v1/status").then(showStatus).then(refreshJobs).then(refreshFailures).catch(report);
  }, 2000);
}
start().catch(report);
</script>
</body>
</html>
"""#
}
