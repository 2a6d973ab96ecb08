// The page of nst serve: a form that starts a run through the API, and a view of one run fed by its
// server-sent events (a snapshot, then step/job/comparison events, then "end"). The backends and the jobs' states
// come from GET /api/options (common/jobs/lifecycle.py defines the states): none is written out here.
"use strict";

const $ = (id) => document.getElementById(id);
const LOSSES = ["content", "style", "tv", "total"];
const state = { options: null, uploads: { content: null, style: null }, run: null, source: null, drawPending: false };

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`);
  return body;
}

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function showError(message) {
  $("error").textContent = message || "";
}

function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (v === 0) return "0";
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5 ? Number(v.toPrecision(6)).toString() : v.toExponential(4);
}

function cell(id, value, text) {
  const shown = text === undefined ? fmt(value) : text;
  const data = value === null || value === undefined ? "" : String(value);
  return `<td id="${id}" data-value="${data}">${shown}</td>`;
}

// ---- the form

async function loadOptions() {
  const o = (state.options = await api("/api/options"));
  for (const role of ["content", "style"]) {
    const select = $(`${role}-sample`);
    select.innerHTML = o.samples.map((s) => `<option value="${esc(s)}">${esc(s)}</option>`).join("");
    select.value = role === "content" ? o.samples[0] : o.samples[1];
    select.addEventListener("change", () => pickSample(role));
    $(`${role}-file`).addEventListener("change", () => upload(role));
    pickSample(role);
  }
  $("preset").innerHTML = `<option value="">none (nst stylize's defaults)</option>` +
    Object.keys(o.presets).map((p) => `<option value="${p}">${p}</option>`).join("");
  $("weights").innerHTML += o.weights.map((w) => `<option>${w}</option>`).join("");
  $("backends").innerHTML = o.backends.map((b) =>
    `<label><input type="checkbox" name="backend" value="${esc(b)}" checked> ${esc(b)}</label>`).join("");
  $("preset").addEventListener("change", presetChanged);
  $("method").addEventListener("change", () => {
    $("preset").value = $("method").value === "hrnet" ? "photoreal-hrnet" : "";
    presetChanged();
  });
  for (const box of document.querySelectorAll("input[name=backend]")) box.addEventListener("change", startLabel);
  startLabel();
  presetChanged();
}

function presetChanged() {
  const preset = $("preset").value;
  $("method").value = preset === "photoreal-hrnet" ? "hrnet" : "gatys";
  $("preset-summary").textContent = preset ? state.options.presets[preset] : "";
  const d = state.options.defaults;
  for (const input of document.querySelectorAll("#settings input[data-setting]")) {
    input.placeholder = preset ? "preset" : String(d[input.dataset.setting]);
  }
  $("size-h").placeholder = preset ? "preset" : "300";
  $("size-w").placeholder = preset ? "preset" : "450";
}

function startLabel() {
  const chosen = backendsChosen();
  const several = chosen.length === 2 ? "both backends" : `${chosen.length} backends`;
  $("start").textContent = `Run on ${chosen.length > 1 ? several : chosen[0] || "…"}`;
}

function backendsChosen() {
  return [...document.querySelectorAll("input[name=backend]:checked")].map((b) => b.value);
}

function pickSample(role) {
  state.uploads[role] = null;
  $(`${role}-file`).value = "";
  $(`${role}-thumb`).src = `/api/samples/${encodeURIComponent($(`${role}-sample`).value)}`;
}

async function upload(role) {
  const file = $(`${role}-file`).files[0];
  if (!file) return pickSample(role);
  showError("");
  try {
    const query = `role=${role}&name=${encodeURIComponent(file.name)}`;
    const meta = await api(`/api/uploads?${query}`, { method: "POST", body: file });
    state.uploads[role] = meta.id;
    $(`${role}-thumb`).src = URL.createObjectURL(file);
  } catch (e) {
    state.uploads[role] = null;
    $(`${role}-file`).value = "";
    showError(e.message);
  }
}

function settingsGiven() {
  const given = {};
  for (const el of document.querySelectorAll("#settings [data-setting]")) {
    const raw = el.value.trim();
    if (raw === "") continue;
    const type = el.dataset.type;
    given[el.dataset.setting] = type === "int" || type === "float" ? Number(raw) : raw;
  }
  const h = $("size-h").value.trim(), w = $("size-w").value.trim();
  if (h || w) given.size = [Number(h), Number(w)];
  return given;
}

async function start(event) {
  event.preventDefault();
  showError("");
  const body = {
    content: state.uploads.content || `sample:${$("content-sample").value}`,
    style: state.uploads.style || `sample:${$("style-sample").value}`,
    backends: backendsChosen(),
    preset: $("preset").value || null,
    settings: settingsGiven(),
  };
  try {
    const run = await api("/api/runs", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    openRun(run.id);
    refreshRuns();
  } catch (e) {
    showError(e.message);
  }
}

// ---- one run, live

function openRun(id) {
  if (state.source) state.source.close();
  history.replaceState(null, "", `#${id}`);
  const source = (state.source = new EventSource(`/api/runs/${id}/events`));
  source.addEventListener("snapshot", (e) => { state.run = JSON.parse(e.data).run; renderRun(); });
  source.addEventListener("step", (e) => onStep(JSON.parse(e.data)));
  source.addEventListener("job", (e) => {
    const d = JSON.parse(e.data);
    const job = state.run.jobs[d.backend];
    Object.assign(job, d.job, { history: job.history });
    renderPane(d.backend);
    renderHead();
  });
  source.addEventListener("comparison", (e) => { state.run.comparison = JSON.parse(e.data).comparison; });
  source.addEventListener("end", (e) => {
    source.close();
    const d = JSON.parse(e.data);
    if (d.run) Object.assign(state.run, { ...d.run, jobs: mergeJobs(d.run.jobs) });
    renderRun();
    refreshRuns();
  });
}

function mergeJobs(jobs) {
  const merged = {};
  for (const [b, job] of Object.entries(jobs)) merged[b] = { ...job, history: state.run.jobs[b].history };
  return merged;
}

function onStep(d) {
  const job = state.run.jobs[d.backend];
  const last = job.history.length ? job.history[job.history.length - 1].step : 0;
  if (d.record.step <= last) return;
  job.history.push(d.record);
  Object.assign(job, { state: d.state, step: d.record.step, last: d.record, preview_step: d.preview_step });
  const seconds = job.history.map((r) => r.seconds).sort((a, b) => a - b);
  job.seconds_per_step = seconds[Math.floor((seconds.length - 1) / 2)];
  if (seconds.length % 2 === 0) job.seconds_per_step = (seconds[seconds.length / 2 - 1] + seconds[seconds.length / 2]) / 2;
  renderPane(d.backend);
  renderHead();
  scheduleChart();
}

function scheduleChart() {
  if (state.drawPending) return;
  state.drawPending = true;
  requestAnimationFrame(() => { state.drawPending = false; drawChart(); });
}

function drawChart() {
  const histories = {};
  let total = 1;
  for (const [b, job] of Object.entries(state.run.jobs)) { histories[b] = job.history; total = Math.max(total, job.total_steps); }
  drawLosses($("chart"), histories, total);
  $("legend").innerHTML = legendHTML(Object.keys(histories));
}

function renderRun() {
  const run = state.run;
  $("run").hidden = false;
  $("run-id").textContent = run.id;
  const s = run.settings, preset = run.preset ? `preset ${run.preset}` : "nst stylize defaults";
  const given = Object.entries(s).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join("x") : v}`).join(", ");
  $("run-note").textContent = `${run.inputs.content.name} in the style of ${run.inputs.style.name}; ${preset}` +
    (given ? `; ${given}` : "") + (run.weights_note ? `; weights: ${run.weights_note}` : "");
  $("panes").innerHTML = Object.keys(run.jobs).map((b) => `<div class="pane" id="pane-${b}"></div>`).join("");
  for (const b of Object.keys(run.jobs)) renderPane(b);
  renderHead();
  drawChart();
  renderComparison();
}

function renderHead() {
  const jobs = Object.values(state.run.jobs);
  $("run-state").textContent = jobs.map((j) => `${j.backend}: ${j.state}`).join(" · ") +
    (state.run.comparing ? " · comparing" : "");
  $("stop").disabled = !jobs.some((j) => state.options.states.stoppable.includes(j.state));
  $("resume").disabled = !jobs.some((j) => j.resumable);
}

function renderPane(b) {
  const job = state.run.jobs[b], pane = $(`pane-${b}`);
  if (!pane.firstChild) {
    pane.innerHTML = `<h3>${b}</h3><img id="img-${b}" alt="${b} picture" data-step="0">
      <p class="status" id="status-${b}"></p><table class="numbers" id="numbers-${b}"></table>
      <p class="links" id="links-${b}"></p>`;
  }
  const ended = state.options.states.ended.includes(job.state);
  const img = $(`img-${b}`), wanted = ended ? `${job.step}-final` : String(job.preview_step);
  const picture = job.preview_step > 0 || (ended && job.files.includes("result"));
  if (picture && img.dataset.want !== wanted) {
    img.dataset.want = wanted;
    img.onload = () => { img.dataset.step = String(parseInt(wanted, 10)); img.dataset.final = String(wanted.endsWith("final")); };
    img.src = `/api/runs/${state.run.id}/${b}/preview?v=${wanted}`;
  }
  const note = job.message ? ` — ${job.message}` : "";
  const warn = job.warnings && job.warnings.length ? ` (warning: ${job.warnings.join("; ")})` : "";
  $(`status-${b}`).textContent = `${job.state}, step ${job.step} of ${job.total_steps}${note}${warn}`;
  $(`status-${b}`).dataset.state = job.state;
  const last = job.last || {};
  $(`numbers-${b}`).innerHTML = `<tr><th>step</th>${cell(`${b}-step`, job.step, String(job.step))}</tr>` +
    LOSSES.map((k) => `<tr><th>${k} loss</th>${cell(`${b}-${k}`, last[k])}</tr>`).join("") +
    `<tr><th>s/step (median)</th>${cell(`${b}-seconds`, job.seconds_per_step)}</tr>`;
  const names = { result: "result", record: "run record", checkpoint: "checkpoint", log: "worker log" };
  $(`links-${b}`).innerHTML = job.files.map((k) =>
    `<a href="/api/runs/${state.run.id}/${b}/files/${k}" download>${names[k]}</a>`).join(" · ");
}

function renderComparison() {
  const c = state.run.comparison;
  $("comparison").hidden = !c;
  if (!c) return;
  if (c.error) { $("comparison-table").innerHTML = `<tr><td>${esc(c.error)}</td></tr>`; return; }
  const names = Object.keys(c.backends), d = c.difference;
  const row = (label, key, f) => `<tr><th>${label}</th>` +
    names.map((n) => cell(`cmp-${n}-${key}`, c.backends[n][key], f ? f(c.backends[n][key]) : undefined)).join("") + "</tr>";
  $("comparison-table").innerHTML = `<tr><th></th>${names.map((n) => `<th>${n}</th>`).join("")}</tr>` +
    row("seconds per step (median)", "median") + row("steps per second", "steps_per_second") +
    LOSSES.map((k) => row(`final ${k} loss`, k)).join("") +
    `<tr><th>PSNR of the two results</th>${cell("cmp-psnr", d.psnr, d.psnr === null ? "∞ (identical)" : `${d.psnr.toFixed(2)} dB`)}</tr>` +
    `<tr><th>max difference</th>${cell("cmp-max-abs", d.max_abs, `${d.max_abs} levels of 255`)}</tr>` +
    `<tr><th>SSIM</th>${cell("cmp-ssim", d.ssim, d.ssim.toFixed(4))}</tr>`;
  $("heatmap").src = `/api/runs/${state.run.id}/comparison/heatmap`;
  const links = { report: "report.html", markdown: "report.md", json: "comparison.json", losses: "losses.png" };
  $("comparison-links").innerHTML = state.run.comparison_files.filter((k) => links[k]).map((k) =>
    `<a href="/api/runs/${state.run.id}/comparison/${k}" download>${links[k]}</a>`).join(" · ");
}

async function control(action) {
  showError("");
  try {
    await api(`/api/runs/${state.run.id}/${action}`, { method: "POST" });
    if (action === "resume") openRun(state.run.id);
  } catch (e) {
    showError(e.message);
  }
}

// ---- the list of runs

async function refreshRuns() {
  const runs = await api("/api/runs");
  $("runs").tBodies[0].innerHTML = runs.map((r) => {
    const recipe = esc((r.preset || "defaults") + Object.entries(r.settings).map(([k, v]) => `, ${k} ${v}`).join(""));
    const jobs = Object.values(r.jobs).map((j) => `${j.backend} ${j.state} (${j.step}/${j.total_steps})`).join(", ");
    return `<tr><td><a href="#${r.id}" data-run="${r.id}">${r.id}</a></td><td>${recipe}</td><td>${jobs}</td></tr>`;
  }).join("");
  for (const a of document.querySelectorAll("#runs a[data-run]")) {
    a.addEventListener("click", (e) => { e.preventDefault(); openRun(a.dataset.run); });
  }
}

window.addEventListener("DOMContentLoaded", async () => {
  $("form").addEventListener("submit", start);
  $("stop").addEventListener("click", () => control("stop"));
  $("resume").addEventListener("click", () => control("resume"));
  try {
    await loadOptions();
    await refreshRuns();
    if (location.hash.length > 1) openRun(location.hash.slice(1));
  } catch (e) {
    showError(e.message);
  }
});
