// The loss curves of every backend on one canvas: content, style, TV and total (one colour each), one dash
// pattern per backend, log-scale y. Drawn by hand: the page loads nothing from outside the server.
"use strict";

const LOSS_COLORS = { content: "#1f77b4", style: "#ff7f0e", tv: "#2ca02c", total: "#111111" };
const BACKEND_DASH = [[], [7, 5], [2, 4]];

function niceLogTicks(lo, hi) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(e);
  return ticks;
}

function drawLosses(canvas, histories, totalSteps) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, left = 62, right = 12, top = 12, bottom = 34;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  let lo = Infinity, hi = -Infinity, last = 1;
  for (const history of Object.values(histories)) {
    for (const r of history) {
      last = Math.max(last, r.step);
      for (const k of Object.keys(LOSS_COLORS)) {
        const v = r[k];
        if (v > 0 && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      }
    }
  }
  const xmax = Math.max(totalSteps || 1, last, 2);
  if (!isFinite(lo)) { lo = 1; hi = 10; }
  const elo = Math.floor(Math.log10(lo)), ehi = Math.max(Math.ceil(Math.log10(hi)), elo + 1);
  const x = (step) => left + (W - left - right) * (step - 1) / (xmax - 1);
  const y = (v) => top + (H - top - bottom) * (ehi - Math.log10(v)) / (ehi - elo);
  ctx.strokeStyle = "#ddd";
  ctx.fillStyle = "#444";
  ctx.font = "11px sans-serif";
  ctx.lineWidth = 1;
  ctx.setLineDash([]);
  for (const e of niceLogTicks(10 ** elo, 10 ** ehi)) {
    if (e < elo || e > ehi) continue;
    ctx.beginPath(); ctx.moveTo(left, y(10 ** e)); ctx.lineTo(W - right, y(10 ** e)); ctx.stroke();
    ctx.fillText("1e" + e, 8, y(10 ** e) + 4);
  }
  const stride = Math.max(1, Math.ceil((xmax - 1) / 8));
  for (let s = 1; s <= xmax; s += stride) {
    ctx.beginPath(); ctx.moveTo(x(s), top); ctx.lineTo(x(s), H - bottom); ctx.stroke();
    ctx.fillText(String(s), x(s) - 4, H - bottom + 14);
  }
  ctx.fillText("step", W / 2, H - 4);
  Object.entries(histories).forEach(([backend, history], i) => {
    ctx.setLineDash(BACKEND_DASH[i % BACKEND_DASH.length]);
    for (const [k, color] of Object.entries(LOSS_COLORS)) {
      ctx.strokeStyle = color;
      ctx.lineWidth = k === "total" ? 2 : 1.4;
      ctx.beginPath();
      let pen = false;
      for (const r of history) {
        const v = r[k];
        if (!(v > 0 && isFinite(v))) { pen = false; continue; }
        if (pen) ctx.lineTo(x(r.step), y(v)); else ctx.moveTo(x(r.step), y(v));
        pen = true;
      }
      ctx.stroke();
    }
    canvas.dataset["lastStep" + backend[0].toUpperCase() + backend.slice(1)] =
      history.length ? String(history[history.length - 1].step) : "0";
  });
}

function legendHTML(backends) {
  const dashes = ["solid", "dashed", "dotted"];
  const losses = Object.entries(LOSS_COLORS)
    .map(([k, c]) => `<span class="swatch" style="background:${c}"></span>${k}`).join(" ");
  return `${losses} &middot; log scale &middot; ` + backends.map((b, i) => `${b}: ${dashes[i % 3]}`).join(", ");
}
