/* stemdyn live page: renders the analysis state (see README "Web dashboard"
 * for the JSON shape) as SVG/canvas.  Live mode reads Server-Sent Events from
 * /events; report mode reads the state embedded in #initial-state. */
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39"];
const LENS_COLORS = ["#2b8cbe", "#fdae61", "#d7191c"];
const state = { stats: null, frame: null, model: null, lens: null, health: {} };
const view = { rotX: -0.4, rotY: 0.6, tauEnv: 0 };

function el(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function svgRoot(w, h) { return el("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h }); }
function text(parent, x, y, s, attrs) {
  const t = el("text", Object.assign({ x, y, "font-size": 11, fill: "#1d2330" }, attrs || {}), parent);
  t.textContent = s;
  return t;
}
function fmt(v, d) { return (v === null || v === undefined || !isFinite(v)) ? "—" : Number(v).toFixed(d); }
/* Three significant digits whatever the magnitude (ns of MD span 1e-3 … 1e3). */
function sig(v) {
  if (v === null || v === undefined || !isFinite(v)) return "—";
  const a = Math.abs(v);
  return a === 0 ? "0" : (a >= 1e4 || a < 1e-3) ? Number(v).toExponential(2) : String(Number(Number(v).toPrecision(3)));
}
function empty(node, msg) { node.innerHTML = ""; const p = document.createElement("div"); p.className = "empty"; p.textContent = msg; node.appendChild(p); }

/* Row-normalise counts; rows with no observation stay null (blank). */
function rowNormalise(c) {
  return c.map(row => { const s = row.reduce((a, b) => a + b, 0); return row.map(v => s > 0 ? v / s : null); });
}
function currentP(s) {
  if (!s) return null;
  if (document.getElementById("scope").value === "mean" && s.mean_P) return s.mean_P.map(r => r.map(v => v > 0 ? v : (v === 0 ? 0 : null)));
  return s.merged && s.merged.counts ? rowNormalise(s.merged.counts) : null;
}

/* Log colour scale (viridis-like ramp) on [1e-4, 1]; zero and unobserved cells blank. */
function logColor(p) {
  const lo = -4, t = Math.min(1, Math.max(0, (Math.log10(p) - lo) / -lo));
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = t * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(x)), f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function drawHeatmap(node, P, labels) {
  node.innerHTML = "";
  if (!P) return empty(node, "no transitions yet");
  const k = labels.length, cell = Math.max(22, Math.min(40, Math.floor(360 / k))), off = 46;
  const w = off + k * cell + 80, h = off + k * cell + 30;
  const svg = svgRoot(w, h);
  el("g", { class: "cells" }, svg);
  for (let i = 0; i < k; i++) {
    text(svg, off - 6, off + i * cell + cell / 2 + 4, labels[i], { "text-anchor": "end" });
    text(svg, off + i * cell + cell / 2, off - 8, labels[i], { "text-anchor": "middle" });
    for (let j = 0; j < k; j++) {
      const p = P[i][j];
      const r = el("rect", { x: off + j * cell, y: off + i * cell, width: cell - 1, height: cell - 1,
        fill: (p === null || p <= 0) ? "#ffffff" : logColor(p), stroke: "#e3e6ec", class: "cell",
        "data-i": i, "data-j": j }, svg);
      const tt = el("title", {}, r);
      tt.textContent = `${labels[i]} → ${labels[j]}: ${p === null ? "unobserved" : p.toExponential(3)}`;
    }
  }
  text(svg, off, 14, "from (rows) → to (columns)", { fill: "#6b7385" });
  const bx = off + k * cell + 20;
  for (let s = 0; s < 40; s++) {
    const v = Math.pow(10, -4 + 4 * (1 - s / 39));
    el("rect", { x: bx, y: off + s * (k * cell / 40), width: 12, height: k * cell / 40 + 0.5, fill: logColor(v) }, svg);
  }
  [0, -1, -2, -3, -4].forEach((e, n) => text(svg, bx + 16, off + n * (k * cell) / 4 + 4, `1e${e}`, { "font-size": 10 }));
  node.appendChild(svg);
}

function drawChord(node, counts, labels) {
  node.innerHTML = "";
  if (!counts) return empty(node, "no exchanges yet");
  const k = labels.length, R = 150, cx = 190, cy = 185, gap = 0.04;
  const out = counts.map((row, i) => row.reduce((a, v, j) => a + (i === j ? 0 : v), 0));
  const inn = labels.map((_, j) => counts.reduce((a, row, i) => a + (i === j ? 0 : row[j]), 0));
  const tot = out.map((v, i) => v + inn[i]), all = tot.reduce((a, b) => a + b, 0);
  const svg = svgRoot(380, 380);
  if (all <= 0) text(svg, cx, cy, "no exchanges between environments yet", { "text-anchor": "middle", fill: "#6b7385" });
  /* every environment keeps a small arc (and its label) even without
   * exchanges, so the diagram always shows all k groups */
  const minf = Math.min(0.01, 0.5 / k), span = 2 * Math.PI - gap * k, flow = all > 0 ? span * (1 - k * minf) / all : 0;
  let a = 0;
  const arcs = labels.map((_, i) => { const s = a, e = a + span * minf + flow * tot[i]; a = e + gap; return { s, e, cur: s + span * minf / 2 }; });
  const pt = (ang, r) => [cx + r * Math.cos(ang - Math.PI / 2), cy + r * Math.sin(ang - Math.PI / 2)];
  arcs.forEach((g, i) => {
    if (g.e - g.s <= 0) return;
    const [x0, y0] = pt(g.s, R), [x1, y1] = pt(g.e, R), [x2, y2] = pt(g.e, R + 12), [x3, y3] = pt(g.s, R + 12);
    const large = g.e - g.s > Math.PI ? 1 : 0;
    el("path", { d: `M${x0},${y0} A${R},${R} 0 ${large} 1 ${x1},${y1} L${x2},${y2} A${R + 12},${R + 12} 0 ${large} 0 ${x3},${y3} Z`,
      fill: PALETTE[i % PALETTE.length], class: "group-arc" }, svg);
    const [lx, ly] = pt((g.s + g.e) / 2, R + 24);
    text(svg, lx, ly + 4, labels[i], { "text-anchor": "middle", class: "group-label" });
  });
  for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) {
    const fij = counts[i][j], fji = counts[j][i];
    if (fij + fji <= 0) continue;
    const wi = flow * (fij + fji), wj = wi; /* a pair takes its share of both arcs */
    const gi = arcs[i], gj = arcs[j];
    const s0 = gi.cur, s1 = gi.cur + wi; gi.cur = s1;
    const t0 = gj.cur, t1 = gj.cur + wj; gj.cur = t1;
    const [a0x, a0y] = pt(s0, R), [a1x, a1y] = pt(s1, R), [b0x, b0y] = pt(t0, R), [b1x, b1y] = pt(t1, R);
    const p = el("path", { d: `M${a0x},${a0y} A${R},${R} 0 ${wi > Math.PI ? 1 : 0} 1 ${a1x},${a1y} Q${cx},${cy} ${b0x},${b0y} A${R},${R} 0 ${wj > Math.PI ? 1 : 0} 1 ${b1x},${b1y} Q${cx},${cy} ${a0x},${a0y} Z`,
      fill: PALETTE[(fij >= fji ? i : j) % PALETTE.length], "fill-opacity": 0.6, stroke: "#fff", "stroke-width": 0.5, class: "ribbon" }, svg);
    el("title", {}, p).textContent = `${labels[i]}→${labels[j]}: ${fij}, ${labels[j]}→${labels[i]}: ${fji}`;
  }
  node.appendChild(svg);
}

function drawPopulations(node, s) {
  node.innerHTML = "";
  if (!s || !s.labels) return empty(node, "no populations yet");
  const labels = s.labels, k = labels.length;
  const series = (s.runs || []).map(r => ({ name: `run ${r.run_id}`, m: r.populations_mean || [], sd: r.populations_std || [] }));
  if (s.merged && s.merged.populations_mean) series.push({ name: "merged", m: s.merged.populations_mean, sd: s.merged.populations_std || [], merged: true });
  const W = 460, H = 230, off = 36, gw = (W - off - 10) / k, nb = Math.max(1, series.length), bw = Math.max(2, gw * 0.8 / nb);
  const vmax = Math.max(1e-9, ...series.flatMap(q => q.m.map((v, i) => v + (q.sd[i] || 0))));
  const svg = svgRoot(W, H + 30), y = v => H - (H - 20) * v / vmax;
  el("line", { x1: off, y1: H, x2: W - 5, y2: H, stroke: "#999" }, svg);
  for (let t = 0; t <= 4; t++) { const v = vmax * t / 4; text(svg, off - 4, y(v) + 4, v < 1 ? v.toFixed(2) : v.toFixed(0), { "text-anchor": "end", "font-size": 9 }); }
  series.forEach((q, n) => q.m.forEach((v, i) => {
    const x = off + i * gw + gw * 0.1 + n * bw;
    el("rect", { x, y: y(v), width: bw - 1, height: H - y(v), fill: q.merged ? "#1d2330" : PALETTE[n % PALETTE.length], class: "pop-bar" }, svg);
    const sd = q.sd[i] || 0;
    if (sd > 0) el("line", { x1: x + bw / 2, x2: x + bw / 2, y1: y(v + sd), y2: y(Math.max(0, v - sd)), stroke: "#333" }, svg);
  }));
  labels.forEach((l, i) => text(svg, off + i * gw + gw / 2, H + 14, l, { "text-anchor": "middle" }));
  series.forEach((q, n) => {
    const lx = W - 70, ly = 8 + n * 12;
    if (ly > H - 20) return;
    el("rect", { x: lx, y: ly, width: 9, height: 9, fill: q.merged ? "#1d2330" : PALETTE[n % PALETTE.length] }, svg);
    text(svg, lx + 13, ly + 8, q.name, { "font-size": 9 });
  });
  node.appendChild(svg);
}

function drawTau(node, s) {
  node.innerHTML = "";
  if (!s || !s.labels || !s.merged || !s.merged.counts) return empty(node, "no lifetimes yet");
  const P = rowNormalise(s.merged.counts), i = Math.min(view.tauEnv, s.labels.length - 1), dt = s.dt_ns || 1;
  const rows = s.labels.map((l, j) => ({ l, tau: (j !== i && P[i] && P[i][j] > 0) ? dt / P[i][j] : null })).filter(r => r.tau !== null);
  if (!rows.length) return empty(node, `no transitions out of ${s.labels[i]} observed yet`);
  const W = 420, bh = 18, H = rows.length * bh + 24, off = 50;
  const lmax = Math.log10(Math.max(...rows.map(r => r.tau))) + 0.3, lmin = Math.log10(dt) - 0.3; /* τ = δt / p ≥ δt */
  const x = v => off + (W - off - 70) * (Math.log10(v) - lmin) / (lmax - lmin);
  const svg = svgRoot(W, H);
  rows.forEach((r, n) => {
    text(svg, off - 6, 16 + n * bh + 10, `→ ${r.l}`, { "text-anchor": "end" });
    el("rect", { x: off, y: 16 + n * bh, width: Math.max(1, x(r.tau) - off), height: bh - 4, fill: "#3b6fd8" }, svg);
    text(svg, x(r.tau) + 4, 16 + n * bh + 10, `${sig(r.tau)} ns`);
  });
  text(svg, off, 11, `τ from ${s.labels[i]} (log scale, δt = ${dt} ns)`, { fill: "#6b7385" });
  node.appendChild(svg);
}

function drawProgress(node, s) {
  node.innerHTML = "";
  const runs = (s && s.runs) || [];
  if (!runs.length) return empty(node, "no MD run yet");
  const t = document.createElement("table");
  t.className = "runs";
  t.innerHTML = "<tr><th>run</th><th>simulated</th><th>progress</th><th>ns/day</th><th>frames</th></tr>";
  runs.forEach(r => {
    const f = r.target_ns > 0 ? Math.min(1, r.sim_ns / r.target_ns) : 0;
    const tr = document.createElement("tr");
    tr.innerHTML = `<td>${r.run_id}</td><td>${sig(r.sim_ns)} / ${sig(r.target_ns)} ns</td>` +
      `<td><span class="bar"><span style="width:${(100 * f).toFixed(1)}%"></span></span> ${(100 * f).toFixed(0)}%</td>` +
      `<td>${sig(r.ns_per_day)}</td><td>${r.frames || 0}</td>`;
    t.appendChild(tr);
  });
  node.appendChild(t);
}

function drawLens(node, kdeNode, s) {
  node.innerHTML = ""; kdeNode.innerHTML = "";
  const L = state.lens || (s && s.lens);
  if (!L || !L.fractions_t || !L.fractions_t.length) { empty(node, "no LENS data yet"); return; }
  const W = 420, H = 160, off = 34, ft = L.fractions_t, t0 = ft[0][0], t1 = Math.max(t0 + 1e-9, ft[ft.length - 1][0]);
  const x = t => off + (W - off - 10) * (t - t0) / (t1 - t0), y = v => 10 + (H - 20) * (1 - v);
  const svg = svgRoot(W, H + 20);
  for (let c = 0; c < 3; c++) {
    const d = ft.map((p, n) => `${n ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1 + c]).toFixed(1)}`).join(" ");
    el("path", { d, fill: "none", stroke: LENS_COLORS[c], "stroke-width": 2, class: "lens-line" }, svg);
  }
  el("line", { x1: off, y1: H - 10, x2: W - 10, y2: H - 10, stroke: "#999" }, svg);
  [0, 0.5, 1].forEach(v => { el("line", { x1: off - 3, x2: W - 10, y1: y(v), y2: y(v), stroke: "#eef0f4" }, svg); text(svg, off - 5, y(v) + 4, String(v), { "text-anchor": "end", "font-size": 9 }); });
  text(svg, off, H + 8, `${sig(t0)} ns`); text(svg, W - 10, H + 8, `${sig(t1)} ns`, { "text-anchor": "end" });
  text(svg, (off + W) / 2, H + 8, L.run_id !== undefined ? `run ${L.run_id}, fraction of atoms` : "fraction of atoms", { "text-anchor": "middle", fill: "#6b7385" });
  (L.class_names || ["static", "mobile", "very mobile"]).forEach((n, c) => text(svg, off + 8 + c * 100, 20, n, { fill: LENS_COLORS[c] }));
  node.appendChild(svg);
  if (L.kde && L.kde.x && L.kde.x.length) {
    const kx = L.kde.x, ky = L.kde.y, ymax = Math.max(...ky, 1e-12);
    const X = v => off + (W - off - 10) * (v - kx[0]) / (kx[kx.length - 1] - kx[0] || 1), Y = v => 10 + (H - 30) * (1 - v / ymax);
    const s2 = svgRoot(W, H);
    el("path", { d: kx.map((v, n) => `${n ? "L" : "M"}${X(v).toFixed(1)},${Y(ky[n]).toFixed(1)}`).join(" "), fill: "none", stroke: "#1d2330", "stroke-width": 1.5, class: "kde" }, s2);
    text(s2, off, H - 4, fmt(kx[0], 2)); text(s2, W - 10, H - 4, fmt(kx[kx.length - 1], 2), { "text-anchor": "end" });
    text(s2, (off + W) / 2, H - 4, "LENS value (density, recent frames of that run)", { "text-anchor": "middle", fill: "#6b7385" });
    kdeNode.appendChild(s2);
  }
}

/* The frame's 8-bit thumbnail (base64 raw grey, recon/latest.json) as a PNG
 * data URL, made once per frame. */
let thumbCache = { key: null, url: null };
function thumbURL(f) {
  const t = f.thumb;
  if (!t || !t.u8 || !(t.w > 0) || !(t.h > 0)) return null;
  const key = `${f.series_id}/${f.index}/${t.u8.length}`;
  if (thumbCache.key === key) return thumbCache.url;
  const raw = atob(t.u8);
  if (raw.length !== t.w * t.h) return null;
  const c = document.createElement("canvas");
  c.width = t.w; c.height = t.h;
  const g = c.getContext("2d"), img = g.createImageData(t.w, t.h);
  for (let i = 0; i < raw.length; i++) {
    const v = raw.charCodeAt(i);
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  g.putImageData(img, 0, 0);
  thumbCache = { key, url: c.toDataURL("image/png") };
  return thumbCache.url;
}

function drawFrame(node, f) {
  node.innerHTML = "";
  if (!f || !f.columns) return empty(node, "no frame counted yet");
  document.getElementById("frame-info").textContent = `frame ${f.index}, ${f.columns.length} columns, ${f.columns.reduce((a, c) => a + c[2], 0)} atoms`;
  const W = f.width_A || 1, H = f.height_A || 1, size = 420, sc = size / Math.max(W, H);
  const svg = svgRoot(Math.round(W * sc), Math.round(H * sc));
  if (f.columns.length) { /* zoom on the particle: the columns' box with a margin */
    const xs = f.columns.map(c => c[0] * sc), ys = f.columns.map(c => c[1] * sc);
    let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const side = Math.max(x1 - x0, y1 - y0) * 1.25 + 20, mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
    svg.setAttribute("viewBox", `${mx - side / 2} ${my - side / 2} ${side} ${side}`);
    svg.setAttribute("width", size); svg.setAttribute("height", size);
  }
  const url = thumbURL(f);
  if (url) el("image", { href: url, x: 0, y: 0, width: W * sc, height: H * sc, preserveAspectRatio: "none", class: "frame-image" }, svg);
  else el("rect", { x: 0, y: 0, width: W * sc, height: H * sc, fill: "#111" }, svg);
  const cmax = Math.max(1, ...f.columns.map(c => c[2]));
  f.columns.forEach(c => {
    el("circle", { cx: c[0] * sc, cy: c[1] * sc, r: Math.max(2, 0.9 * sc), fill: "none", stroke: `hsl(${200 - 200 * c[2] / cmax},90%,60%)`, "stroke-width": 0.6, class: "column" }, svg);
    text(svg, c[0] * sc, c[1] * sc + 2.5, String(c[2]), { "text-anchor": "middle", "font-size": Math.max(3, 0.75 * sc), fill: "#fff" });
  });
  node.appendChild(svg);
}

function drawModel(canvas, legend, m, labels) {
  const g = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  g.clearRect(0, 0, W, H);
  legend.innerHTML = "";
  if (!m || !m.atoms || !m.atoms.length) { g.fillStyle = "#6b7385"; g.fillText("no model yet", 20, 30); return; }
  const at = m.atoms, n = at.length;
  let cx = 0, cy = 0, cz = 0;
  at.forEach(a => { cx += a[0]; cy += a[1]; cz += a[2]; });
  cx /= n; cy /= n; cz /= n;
  const cX = Math.cos(view.rotX), sX = Math.sin(view.rotX), cY = Math.cos(view.rotY), sY = Math.sin(view.rotY);
  let rmax = 1;
  const p = at.map(a => {
    let x = a[0] - cx, y = a[1] - cy, z = a[2] - cz;
    const x1 = cY * x + sY * z, z1 = -sY * x + cY * z;
    const y2 = cX * y - sX * z1, z2 = sX * y + cX * z1;
    rmax = Math.max(rmax, Math.hypot(x1, y2));
    return [x1, y2, z2, a.length > 3 ? a[3] : -1];
  });
  p.sort((u, v) => u[2] - v[2]);
  const sc = (Math.min(W, H) / 2 - 12) / rmax, rad = Math.max(2, 1.0 * sc);
  p.forEach(q => {
    const shade = 0.65 + 0.35 * (q[2] / rmax + 1) / 2;
    g.beginPath();
    g.arc(W / 2 + q[0] * sc, H / 2 - q[1] * sc, rad, 0, 2 * Math.PI);
    g.fillStyle = q[3] >= 0 ? PALETTE[q[3] % PALETTE.length] : "#c9a227";
    g.globalAlpha = shade;
    g.fill();
    g.globalAlpha = 1;
    g.strokeStyle = "rgba(0,0,0,0.25)";
    g.stroke();
  });
  (labels || []).forEach((l, i) => {
    const s = document.createElement("span");
    s.innerHTML = `<i style="background:${PALETTE[i % PALETTE.length]}"></i>${l}`;
    legend.appendChild(s);
  });
}

function drawHealth(h, s) {
  const set = (id, txt, bad) => { const e = document.getElementById(id); e.textContent = txt; e.classList.toggle("bad", !!bad); };
  const known = v => v !== undefined && v !== null;
  set("h-frames", `frames ${known(h.frames_received) ? h.frames_received : "—"}` + (s && s.merged ? ` · analysed ${s.merged.frames || 0}` : ""));
  set("h-dropped", `dropped ${known(h.frames_dropped) ? h.frames_dropped : "—"}`, (h.frames_dropped || 0) > 0);
  set("h-gaps", `gaps ${known(h.gaps) ? h.gaps : "—"}`, (h.gaps || 0) > 0);
  set("h-latency", `latency p50 ${fmt(h.latency_p50_s, 2)} s · p99 ${fmt(h.latency_p99_s, 2)} s`, (h.latency_p99_s || 0) > 0.4);
  document.getElementById("h-latency").title = "acquisition → model sent to MD, over the last " + (h.latency_frames || 0) +
    " frames (a replay keeps the original acquisition times); recon alone: p50 " + fmt(h.recon_p50_s, 3) + " s, p99 " + fmt(h.recon_p99_s, 3) + " s";
  set("h-seq", `seq ${s && s.seq !== undefined ? s.seq : "—"}`);
}

function render() {
  const s = state.stats;
  const labels = (s && s.labels) || [];
  document.getElementById("session").textContent = (s && s.session) || "";
  const sel = document.getElementById("tau-env");
  if (sel.options.length !== labels.length) {
    sel.innerHTML = labels.map((l, i) => `<option value="${i}">${l}</option>`).join("");
    sel.value = String(Math.min(view.tauEnv, Math.max(0, labels.length - 1)));
  }
  drawHeatmap(document.getElementById("heatmap"), currentP(s), labels);
  drawChord(document.getElementById("chord"), s && s.merged ? s.merged.counts : null, labels);
  drawPopulations(document.getElementById("populations"), s);
  drawTau(document.getElementById("tau"), s);
  drawProgress(document.getElementById("progress"), s);
  drawLens(document.getElementById("lens"), document.getElementById("kde"), s);
  drawFrame(document.getElementById("frame"), state.frame);
  drawModel(document.getElementById("model3d"), document.getElementById("model-legend"), state.model, labels);
  drawHealth(Object.assign({}, s && s.health, state.health), s);
}

let pending = false;
function schedule() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; render(); }); } }

function apply(msg) {
  if (msg.stats) state.stats = msg.stats;
  if (msg.frame) state.frame = msg.frame;
  if (msg.model) state.model = msg.model;
  if (msg.health) state.health = msg.health;
  if (msg.lens) state.lens = msg.lens;
  schedule();
}

function setupRotation(canvas) {
  let drag = null;
  canvas.addEventListener("pointerdown", e => { drag = [e.clientX, e.clientY]; try { canvas.setPointerCapture(e.pointerId); } catch (_) { /* synthetic or already released pointer */ } });
  canvas.addEventListener("pointermove", e => {
    if (!drag) return;
    view.rotY += (e.clientX - drag[0]) * 0.01; view.rotX += (e.clientY - drag[1]) * 0.01;
    drag = [e.clientX, e.clientY];
    drawModel(canvas, document.getElementById("model-legend"), state.model, state.stats && state.stats.labels);
  });
  canvas.addEventListener("pointerup", () => { drag = null; });
}

function connect() {
  const conn = document.getElementById("h-conn");
  const es = new EventSource("events");
  es.addEventListener("open", () => { conn.textContent = "live"; conn.className = "pill good"; });
  es.addEventListener("error", () => { conn.textContent = "reconnecting…"; conn.className = "pill bad"; });
  es.addEventListener("state", ev => apply(JSON.parse(ev.data)));
}

window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("scope").addEventListener("change", schedule);
  document.getElementById("tau-env").addEventListener("change", e => { view.tauEnv = Number(e.target.value); schedule(); });
  setupRotation(document.getElementById("model3d"));
  const init = JSON.parse(document.getElementById("initial-state").textContent || "null");
  if (init) { document.getElementById("h-conn").textContent = "report"; apply(init); }
  else connect();
});
