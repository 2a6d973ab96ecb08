// The page of nst serve: a form that starts a run through the API, and a view of one run fed by its
// server-sent events (a snapshot, then step/job/comparison events, then "end"). The backends, the jobs' states and
// each setting's flag and value schema come from GET /api/options (common/jobs/lifecycle.py defines the states,
// common/jobs/declared.py the settings): none is written out here. Whatever the server says is shown where the user
// acted, in the words of the page's own fields; when the server stops answering the page says so, stops offering
// what needs it and reconnects with a growing delay, then shows every run as the server has it.
"use strict";

const $ = (id) => document.getElementById(id);
const LOSSES = ["content", "style", "tv", "total"];
const ROLES = ["content", "style"];
const RETRY_FIRST = 500, RETRY_MAX = 10000; // ms: the first reconnection try, and the longest wait between tries
const POLL_LIVE = 2000, POLL_IDLE = 5000; // ms: the list of runs is read again this often (while a run is live)
const state = {
  options: null, fields: {}, can: {}, run: null, viewing: null, source: null, drawPending: false,
  runs: [], uploads: [], thumbs: {}, rowErrors: {}, formCheck: false,
};
const net = { online: true, delay: RETRY_FIRST, timer: null, poll: null };

class Refused extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// A request to the API: its JSON; a refusal is a Refused error with the server's line in the page's words, and a
// request that gets no answer at all puts the page in its "server lost" mode.
async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", ...options });
  } catch (e) {
    serverLost();
    const lost = new Error("not done: the server is not answering");
    lost.lost = true;
    throw lost;
  }
  const body = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Refused(typeof body.detail === "string" ? pageWords(body.detail) : `HTTP ${response.status}`, response.status);
  }
  return body;
}

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// A message in the error line of the place where the user acted (empty: cleared), scrolled into view if needed.
function say(where, message) {
  const line = $(where);
  line.textContent = message || "";
  if (message) line.scrollIntoView({ block: "nearest" });
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

// ---- the page's names for the settings (their labels), and the server's lines in those words

function ownText(element) {
  return [...element.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join(" ").trim();
}

function fieldName(field) {
  const own = ownText(field.closest("label"));
  const group = field.closest("[data-group]");
  return group ? `${ownText(group)} ${own}` : own;
}

// flag (from the settings' declarations, through /api/options) -> what the form calls it, and its parts (H, W)
function fieldNames() {
  const names = {};
  for (const [setting, spec] of Object.entries(state.options.settings)) {
    const fields = [...document.querySelectorAll(`#settings [data-setting="${setting}"]`)];
    if (!spec.flag || !fields.length) continue;
    const group = fields[0].closest("[data-group]");
    const parts = Object.fromEntries(fields.filter((f) => f.dataset.part).map((f) => [f.dataset.part, fieldName(f)]));
    names[spec.flag] = { whole: group ? ownText(group) : fieldName(fields[0]), parts };
  }
  return names;
}

// "--size W must be ..." -> "“Size W” must be ...": every flag of a field on the page becomes that field's name
function pageWords(message) {
  return message.replace(/--[a-z][a-z0-9-]*(?: ([A-Z])\b)?/g, (text, part) => {
    const known = state.fields[text.split(" ")[0]];
    if (!known) return text;
    if (part && known.parts[part]) return `“${known.parts[part]}”`;
    return `“${known.whole}”${part ? ` ${part}` : ""}`;
  });
}

// ---- the form

async function loadOptions() {
  const o = (state.options = await api("/api/options"));
  state.fields = fieldNames();
  for (const select of document.querySelectorAll("#settings select[data-setting]")) {
    const spec = o.settings[select.dataset.setting];
    const choices = select.dataset.setting === "weights" ? o.weights : (spec && spec.schema.enum) || [];
    select.innerHTML = `<option value="">default</option>` + choices.map((c) => `<option>${esc(c)}</option>`).join("");
  }
  $("preset").innerHTML = `<option value="">none (nst stylize's defaults)</option>` +
    Object.keys(o.presets).map((p) => `<option value="${esc(p)}">${esc(p)}</option>`).join("");
  $("backends").innerHTML = o.backends.map((b) =>
    `<label><input type="checkbox" name="backend" value="${esc(b)}" checked> ${esc(b)}</label>`).join("");
  for (const box of document.querySelectorAll("input[name=backend]")) box.addEventListener("change", startLabel);
  renderImageOptions();
  startLabel();
  presetChanged();
}

async function loadFeatures() {
  // What this server offers besides the basics (deleting runs and uploads, listing uploads), from its OpenAPI.
  try {
    const paths = (await api("/openapi.json")).paths || {};
    const has = (pattern, method) => Object.entries(paths).some(([p, ops]) => pattern.test(p) && ops[method]);
    state.can = {
      deleteRun: has(/^\/api\/runs\/\{[^}/]+\}$/, "delete"),
      deleteUpload: has(/^\/api\/uploads\/\{[^}/]+\}$/, "delete"),
      listUploads: has(/^\/api\/uploads$/, "get"),
    };
  } catch (e) {
    state.can = {};
  }
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
  $("start").disabled = !net.online || !chosen.length;
}

function backendsChosen() {
  return [...document.querySelectorAll("input[name=backend]:checked")].map((b) => b.value);
}

// ---- images: the samples and the uploads, in one list per role

function renderImageOptions() {
  const samples = state.options.samples;
  for (const role of ROLES) {
    const select = $(`${role}-sample`), was = select.value;
    select.innerHTML = `<optgroup label="samples">` +
      samples.map((s) => `<option value="sample:${esc(s)}">${esc(s)}</option>`).join("") + "</optgroup>" +
      (state.uploads.length ? `<optgroup label="uploads">` +
        state.uploads.map((u) => `<option value="${esc(u.id)}">${esc(u.name)}</option>`).join("") + "</optgroup>" : "");
    select.value = was;
    if (select.value !== was || !was) select.value = `sample:${samples[role === "content" ? 0 : 1]}`;
    showThumb(role);
  }
}

function showThumb(role) {
  const ref = $(`${role}-sample`).value, thumb = $(`${role}-thumb`);
  const src = ref.startsWith("sample:") ? `/api/samples/${encodeURIComponent(ref.slice(7))}` : state.thumbs[ref];
  thumb.hidden = !src;
  if (src && thumb.getAttribute("src") !== src) thumb.src = src;
  $(`${role}-thumb-note`).textContent = src ? "" : "(uploaded earlier)";
}

async function upload(role) {
  const input = $(`${role}-file`), file = input.files[0];
  if (!file) return;
  say(`${role}-error`, "");
  try {
    const query = `role=${role}&name=${encodeURIComponent(file.name)}`;
    const meta = await api(`/api/uploads?${query}`, { method: "POST", body: file });
    state.thumbs[meta.id] = URL.createObjectURL(file);
    if (!state.uploads.some((u) => u.id === meta.id)) state.uploads.push({ role, size: file.size, ...meta });
    await refreshUploads();
    $(`${role}-sample`).value = meta.id;
    showThumb(role);
    say("run-error", ""); // a refusal of the last run may have been about the images
  } catch (e) {
    say(`${role}-error`, e.message);
  } finally {
    input.value = "";
  }
}

async function refreshUploads() {
  if (state.can.listUploads) {
    try {
      state.uploads = await api("/api/uploads");
    } catch (e) {
      return;
    }
  }
  renderUploads();
}

function renderUploads() {
  renderImageOptions();
  $("uploads-box").hidden = !state.uploads.length;
  $("uploads").tBodies[0].innerHTML = state.uploads.map((u) => {
    const size = typeof u.size === "number" ? `${(u.size / 1024).toFixed(1)} KiB` : "";
    const button = state.can.deleteUpload ?
      `<button type="button" data-delete-upload="${esc(u.id)}" data-needs-server${net.online ? "" : " disabled"}>Delete</button>` : "";
    return `<tr data-upload="${esc(u.id)}"><td>${esc(u.name)}</td><td>${esc(u.role || "")}</td><td>${size}</td>` +
      `<td>${button} <span class="error" role="alert">${esc(state.rowErrors[u.id] || "")}</span></td></tr>`;
  }).join("");
}

async function deleteUpload(id) {
  delete state.rowErrors[id];
  try {
    await api(`/api/uploads/${encodeURIComponent(id)}`, { method: "DELETE" });
    state.uploads = state.uploads.filter((u) => u.id !== id);
  } catch (e) {
    state.rowErrors[id] = e.message;
  }
  await refreshUploads();
}

// ---- the settings: only what the user filled is sent, each checked against its schema from /api/options

function checkNumber(raw, schema, name, badInput) {
  const integer = schema.type === "integer", value = Number(raw);
  const bounds = [];
  if (schema.minimum !== undefined) bounds.push(`at least ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) bounds.push(`greater than ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined) bounds.push(`at most ${schema.maximum}`);
  const what = (integer ? "a whole number" : "a number") + (bounds.length ? `, ${bounds.join(" and ")}` : "");
  const ok = !badInput && raw !== "" && Number.isFinite(value) && (!integer || Number.isInteger(value)) &&
    (schema.minimum === undefined || value >= schema.minimum) &&
    (schema.exclusiveMinimum === undefined || value > schema.exclusiveMinimum) &&
    (schema.maximum === undefined || value <= schema.maximum);
  if (ok) return { value };
  return { error: `“${name}” must be ${what}, not ${badInput ? "what is typed there" : `“${raw}”`}` };
}

function readField(field, schema) {
  const raw = field.value.trim();
  if (schema.type === "number" || schema.type === "integer") {
    return checkNumber(raw, schema, fieldName(field), field.validity && field.validity.badInput);
  }
  return { value: raw };
}

// The settings the user gave, and what is wrong with them: {given, problems: [[field, message], ...]}
function settingsGiven() {
  const given = {}, problems = [], groups = {};
  for (const field of document.querySelectorAll("#settings [data-setting]")) {
    (groups[field.dataset.setting] = groups[field.dataset.setting] || []).push(field);
  }
  for (const [setting, fields] of Object.entries(groups)) {
    const schema = state.options.settings[setting].schema;
    const filled = fields.filter((f) => f.value.trim() !== "" || (f.validity && f.validity.badInput));
    if (!filled.length) continue; // empty: the default, so not sent
    if (fields.length > 1) { // a setting of several fields (the size): all of them, or none
      const empty = fields.filter((f) => !filled.includes(f));
      if (empty.length) {
        const all = fields.map((f) => `“${fieldName(f)}”`).join(" and ");
        for (const f of empty) problems.push([f, `“${fieldName(f)}” is empty: give ${all}, or leave ${fields.length === 2 ? "both" : "all"} empty for the default`]);
        continue;
      }
      const read = fields.map((f) => [f, readField(f, schema.items)]);
      for (const [f, r] of read) if (r.error) problems.push([f, r.error]);
      if (read.every(([, r]) => !r.error)) given[setting] = read.map(([, r]) => r.value);
      continue;
    }
    const r = readField(fields[0], schema);
    if (r.error) problems.push([fields[0], r.error]);
    else given[setting] = r.value;
  }
  return { given, problems };
}

function markProblems(problems) {
  const bad = new Set(problems.map(([field]) => field));
  for (const field of document.querySelectorAll("#settings [data-setting]")) {
    if (bad.has(field)) field.setAttribute("aria-invalid", "true");
    else field.removeAttribute("aria-invalid");
  }
  say("run-error", problems.map(([, message]) => message).join("\n"));
}

function recheck() {
  // After a refusal by the form's own check: the message follows the fields as they are corrected.
  if (!state.formCheck) return;
  const { problems } = settingsGiven();
  markProblems(problems);
  state.formCheck = problems.length > 0;
}

async function start(event) {
  event.preventDefault();
  say("run-error", "");
  const { given, problems } = settingsGiven();
  markProblems(problems);
  state.formCheck = problems.length > 0;
  if (problems.length) return;
  const body = {
    content: $("content-sample").value,
    style: $("style-sample").value,
    backends: backendsChosen(),
    preset: $("preset").value || null,
    settings: given,
  };
  try {
    const run = await api("/api/runs", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    location.hash = run.id; // the run is shown by the hashchange, and Back returns to what was shown before
    refreshRuns();
  } catch (e) {
    say("run-error", e.message);
  }
}

// ---- one run, live

function showRunFromHash() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (!id) return closeRun();
  openRun(id);
  const top = $("run").getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight - 60) $("run").scrollIntoView({ block: "start" });
}

function closeSource() {
  if (state.source) state.source.close();
  state.source = null;
}

function closeRun() {
  closeSource();
  state.viewing = state.run = null;
  $("run").hidden = true;
  renderRuns();
}

async function openRun(id) {
  closeSource();
  state.viewing = id;
  state.run = null;
  $("run").hidden = false;
  $("run-id").textContent = id;
  $("run-body").hidden = $("run-missing").hidden = true;
  $("run-state").textContent = "loading…";
  $("stop").disabled = $("resume").disabled = true;
  say("control-error", "");
  renderRuns();
  await loadRun(id);
}

// The run as the server has it now; until it answers, what is shown stays (the banner says the server is lost).
async function loadRun(id) {
  let run;
  try {
    run = await api(`/api/runs/${encodeURIComponent(id)}`);
  } catch (e) {
    if (state.viewing === id && !e.lost) showMissing(id, e);
    return;
  }
  if (state.viewing !== id) return; // another run was asked for meanwhile
  state.run = run;
  renderRun();
  if (!run.terminal) listen(id);
}

function showMissing(id, e) {
  closeSource();
  state.run = null;
  $("run-state").textContent = "";
  $("stop").disabled = $("resume").disabled = true;
  $("run-body").hidden = true;
  $("run-missing").hidden = false;
  $("run-missing").textContent = e.status >= 400 && e.status < 500 ? `no run with id ${id}` : e.message;
}

function listen(id) {
  closeSource();
  const source = (state.source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`));
  const on = (name, handler) => source.addEventListener(name, (e) => {
    if (state.source === source && state.viewing === id) handler(JSON.parse(e.data));
  });
  on("snapshot", (d) => { state.run = d.run; renderRun(); });
  on("step", onStep);
  on("job", (d) => {
    const job = state.run.jobs[d.backend];
    Object.assign(job, d.job, { history: job.history });
    renderPane(d.backend);
    renderHead();
    refreshRuns();
  });
  on("comparison", (d) => { state.run.comparison = d.comparison; });
  on("end", (d) => {
    closeSource();
    if (d.reason) return serverLost(); // the server is shutting down: what it says next is not known yet
    if (d.run) Object.assign(state.run, { ...d.run, jobs: mergeJobs(d.run.jobs) });
    renderRun();
    refreshRuns();
  });
  source.onerror = () => {
    if (state.source !== source) return;
    closeSource(); // the page reconnects itself: a lost server is noticed by asking for the run again
    setTimeout(() => { if (state.viewing === id && !state.source && net.online) loadRun(id); }, RETRY_FIRST);
  };
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
  requestAnimationFrame(() => { state.drawPending = false; if (state.run) drawChart(); });
}

function drawChart() {
  const canvas = $("chart"), room = Math.round(Math.min(900, canvas.parentElement.clientWidth - 12));
  if (room >= 240 && canvas.width !== room) { // drawn at the size it is shown: readable on a phone too
    canvas.width = room;
    canvas.height = Math.round(Math.min(320, Math.max(220, room * 0.6)));
  }
  const histories = {};
  let total = 1;
  for (const [b, job] of Object.entries(state.run.jobs)) { histories[b] = job.history; total = Math.max(total, job.total_steps); }
  drawLosses(canvas, histories, total);
  $("legend").innerHTML = legendHTML(Object.keys(histories));
}

function renderRun() {
  const run = state.run;
  $("run").hidden = $("run-body").hidden = false;
  $("run-missing").hidden = true;
  $("run-id").textContent = run.id;
  const s = run.settings, preset = run.preset ? `preset ${run.preset}` : "nst stylize defaults";
  const given = Object.entries(s).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join("x") : v}`).join(", ");
  $("run-note").textContent = `${run.inputs.content.name} in the style of ${run.inputs.style.name}; ${preset}` +
    (given ? `; ${given}` : "") + (run.weights_note ? `; weights: ${run.weights_note}` : "");
  $("panes").innerHTML = Object.keys(run.jobs).map((b) => `<div class="pane" id="pane-${esc(b)}"></div>`).join("");
  for (const b of Object.keys(run.jobs)) renderPane(b);
  renderHead();
  drawChart();
  renderComparison();
}

function renderHead() {
  const jobs = Object.values(state.run.jobs);
  const now = jobs.map((j) => `${j.backend}: ${j.state}`).join(" · ") + (state.run.comparing ? " · comparing" : "");
  $("run-state").textContent = net.online ? now : `last known: ${now}`;
  $("stop").disabled = !net.online || !jobs.some((j) => state.options.states.stoppable.includes(j.state));
  $("resume").disabled = !net.online || !jobs.some((j) => j.resumable);
}

function renderPane(b) {
  const job = state.run.jobs[b], pane = $(`pane-${b}`);
  if (!pane.firstChild) {
    const size = state.run.settings.size, aspect = Array.isArray(size) ? `${size[1]} / ${size[0]}` : "3 / 2";
    pane.innerHTML = `<h3>${esc(b)}</h3><div class="picture">
      <div class="placeholder" id="placeholder-${b}" style="aspect-ratio: ${esc(aspect)}"></div>
      <img id="img-${b}" alt="${b} picture" data-step="0" hidden></div>
      <p class="status" id="status-${b}"></p><table class="numbers" id="numbers-${b}"></table>
      <p class="links" id="links-${b}"></p>`;
  }
  const ended = state.options.states.ended.includes(job.state);
  const img = $(`img-${b}`), placeholder = $(`placeholder-${b}`);
  const wanted = ended ? `${job.step}-final` : String(job.preview_step);
  const picture = job.preview_step > 0 || (ended && job.files.includes("result"));
  if (picture && img.dataset.want !== wanted) {
    img.dataset.want = wanted;
    img.onload = () => {
      img.dataset.step = String(parseInt(wanted, 10));
      img.dataset.final = String(wanted.endsWith("final"));
      img.hidden = false;
      placeholder.hidden = true;
    };
    img.onerror = () => { img.dataset.want = ""; }; // tried again at the next step
    img.src = `/api/runs/${state.run.id}/${b}/preview?v=${wanted}`;
  }
  placeholder.textContent = picture ? "loading the picture…" : `${job.state}: no picture yet`;
  const note = job.message ? ` — ${job.message}` : "";
  const warn = job.warnings && job.warnings.length ? ` (warning: ${job.warnings.join("; ")})` : "";
  $(`status-${b}`).textContent = `${job.state}, step ${job.step} of ${job.total_steps}${note}${warn}`;
  $(`status-${b}`).dataset.state = job.state;
  const last = job.last || {};
  $(`numbers-${b}`).innerHTML = `<tr><th>step</th>${cell(`${b}-step`, job.step, String(job.step))}</tr>` +
    LOSSES.map((k) => `<tr><th>${k} loss</th>${cell(`${b}-${k}`, last[k])}</tr>`).join("") +
    `<tr><th>s/step (median)</th>${cell(`${b}-seconds`, job.seconds_per_step)}</tr>`;
  const names = { result: "result", record: "run record", checkpoint: "checkpoint", log: "worker log" };
  const own = typeof job.checkpoint === "string" && job.checkpoint.startsWith("/api/") ? job.checkpoint : null;
  const links = job.files.filter((k) => names[k] && !(own && k === "checkpoint")).map((k) =>
    `<a href="/api/runs/${state.run.id}/${b}/files/${k}" download>${names[k]}</a>`);
  if (own) links.push(`<a href="${esc(own)}" id="checkpoint-${b}" download>Download checkpoint</a>`);
  $(`links-${b}`).innerHTML = links.join(" · ");
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
    `<tr><th>PSNR of the ${names.length === 2 ? "two results" : "two farthest results"}</th>${cell("cmp-psnr", d.psnr, d.psnr === null ? "∞ (identical)" : `${d.psnr.toFixed(2)} dB`)}</tr>` +
    `<tr><th>max difference</th>${cell("cmp-max-abs", d.max_abs, `${d.max_abs} levels of 255`)}</tr>` +
    `<tr><th>SSIM</th>${cell("cmp-ssim", d.ssim, d.ssim.toFixed(4))}</tr>`;
  $("heatmap").src = `/api/runs/${state.run.id}/comparison/heatmap`;
  const links = { report: "report.html", markdown: "report.md", json: "comparison.json", losses: "losses.png" };
  $("comparison-links").innerHTML = state.run.comparison_files.filter((k) => links[k]).map((k) =>
    `<a href="/api/runs/${state.run.id}/comparison/${k}" download>${links[k]}</a>`).join(" · ");
}

async function control(action) {
  say("control-error", "");
  const id = state.run.id;
  try {
    await api(`/api/runs/${encodeURIComponent(id)}/${action}`, { method: "POST" });
    if (state.viewing === id && !state.source) listen(id); // a resumed run is live again
    refreshRuns();
  } catch (e) {
    say("control-error", e.message);
  }
}

// ---- the list of runs, read again while any of them is live

async function refreshRuns() {
  clearTimeout(net.poll);
  let runs;
  try {
    runs = await api("/api/runs");
  } catch (e) {
    if (!e.lost) net.poll = setTimeout(refreshRuns, POLL_IDLE);
    return; // a lost server: refreshRuns runs again when it answers
  }
  state.runs = runs;
  renderRuns();
  const shown = runs.find((r) => r.id === state.viewing);
  if (shown && !shown.terminal && state.run && !state.source) listen(shown.id); // resumed meanwhile
  clearTimeout(net.poll);
  net.poll = setTimeout(refreshRuns, runs.some((r) => !r.terminal) ? POLL_LIVE : POLL_IDLE);
}

function renderRuns() {
  $("runs").tBodies[0].innerHTML = state.runs.map((r) => {
    const id = esc(r.id);
    const recipe = esc((r.preset || "defaults") + Object.entries(r.settings).map(([k, v]) => `, ${k} ${v}`).join(""));
    const jobs = esc(Object.values(r.jobs).map((j) => `${j.backend} ${j.state} (${j.step}/${j.total_steps})`).join(", "));
    const button = state.can.deleteRun && r.terminal ?
      `<button type="button" data-delete-run="${id}" data-needs-server${net.online ? "" : " disabled"}>Delete</button>` : "";
    const current = r.id === state.viewing ? ` aria-current="true"` : "";
    return `<tr data-run="${id}"${current}><td><a href="#${id}">${id}</a></td><td>${recipe}</td>` +
      `<td class="jobs">${jobs}</td><td>${button} <span class="error" role="alert">${esc(state.rowErrors[r.id] || "")}</span></td></tr>`;
  }).join("");
}

async function deleteRun(id) {
  delete state.rowErrors[id];
  try {
    await api(`/api/runs/${encodeURIComponent(id)}`, { method: "DELETE" });
    if (state.viewing === id) {
      history.replaceState(null, "", location.pathname + location.search);
      closeRun();
    }
  } catch (e) {
    state.rowErrors[id] = e.message;
  }
  await refreshRuns();
}

// ---- the connection: lost, tried again with a growing delay, found again

function serverLost() {
  if (!net.online) return;
  net.online = false;
  net.delay = RETRY_FIRST;
  closeSource();
  clearTimeout(net.poll);
  renderConnection();
  scheduleProbe();
}

function scheduleProbe() {
  const wait = net.delay;
  net.delay = Math.min(net.delay * 2, RETRY_MAX);
  net.timer = setTimeout(probe, wait);
  $("offline-next").textContent = `(next try in ${(wait / 1000).toFixed(1)} s)`;
}

async function probe() {
  let answered = false;
  try {
    answered = (await fetch("/api/options", { cache: "no-store" })).ok;
  } catch (e) {
    answered = false;
  }
  if (!answered) return scheduleProbe();
  net.online = true;
  renderConnection();
  if (!state.options) return init();
  refreshRuns();
  refreshUploads();
  if (state.viewing) loadRun(state.viewing); // the run as the server has it now
}

function renderConnection() {
  $("offline").hidden = net.online;
  document.body.dataset.server = net.online ? "answering" : "lost";
  for (const element of document.querySelectorAll("[data-needs-server]")) element.disabled = !net.online;
  if (state.options) startLabel();
  if (state.run) renderHead();
}

// ---- start

async function init() {
  try {
    await loadFeatures();
    await loadOptions();
  } catch (e) {
    if (!e.lost) say("error", e.message);
    return;
  }
  window.addEventListener("hashchange", showRunFromHash);
  await refreshUploads();
  await refreshRuns();
  if (location.hash.length > 1) showRunFromHash();
}

window.addEventListener("resize", () => { if (state.run) scheduleChart(); });

window.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", start);
  $("form").addEventListener("input", recheck);
  $("form").addEventListener("change", recheck);
  $("preset").addEventListener("change", presetChanged);
  $("method").addEventListener("change", () => {
    $("preset").value = $("method").value === "hrnet" ? "photoreal-hrnet" : "";
    presetChanged();
  });
  for (const role of ROLES) {
    $(`${role}-sample`).addEventListener("change", () => { say(`${role}-error`, ""); showThumb(role); });
    $(`${role}-file`).addEventListener("change", () => upload(role));
  }
  $("stop").addEventListener("click", () => control("stop"));
  $("resume").addEventListener("click", () => control("resume"));
  $("runs").addEventListener("click", (e) => {
    const button = e.target.closest("[data-delete-run]");
    if (button) deleteRun(button.dataset.deleteRun);
  });
  $("uploads").addEventListener("click", (e) => {
    const button = e.target.closest("[data-delete-upload]");
    if (button) deleteUpload(button.dataset.deleteUpload);
  });
  init();
});
