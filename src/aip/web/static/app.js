"use strict";
// aip workbench: a small page over the JSON API of aip.web.app (no build step, no framework).

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const fmt = (v, d = 2) => (typeof v === "number" ? v.toFixed(d) : "–");
let INFO = null;

async function api(path, body, isForm = false) {
  const opts = body === undefined ? {} : {
    method: "POST", body: isForm ? body : JSON.stringify(body),
    headers: isForm ? {} : {"Content-Type": "application/json"}};
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({error: `HTTP ${r.status}`}));
  if (!r.ok) throw new Error(data.error || data.detail || `HTTP ${r.status}`);
  return data;
}

// ------------------------------------------------------------------ tabs
for (const b of document.querySelectorAll("nav button")) {
  b.addEventListener("click", () => {
    document.querySelectorAll("nav button").forEach(x => x.classList.toggle("active", x === b));
    document.querySelectorAll(".panel").forEach(p => p.classList.toggle("active", p.id === b.dataset.tab));
    if (b.dataset.tab === "runs") loadRuns();
  });
}

// ------------------------------------------------------------------ image pickers
function makePicker(host, status) {
  const node = $("#picker").content.cloneNode(true);
  host.append(node);
  const box = host.querySelector(".picker");
  const sel = box.querySelector(".sample");
  for (const s of INFO.samples) sel.append(el("option", {value: s, text: s}));
  const show = (rec) => {
    box.dataset.id = rec.id;
    const t = box.querySelector(".thumb");
    t.replaceChildren(el("img", {src: rec.url, alt: "chosen image"}),
                      el("div", {class: "note", text: `${rec.width} x ${rec.height}, ${rec.channels === 1 ? "gray" : "colour"}`}));
    say(status, "");
  };
  box.querySelector(".upload").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    const form = new FormData();
    form.append("file", f);
    delete box.dataset.id;
    try { show(await api("/api/upload", form, true)); } catch (e) { say(status, e.message, true); }
  });
  const pickSample = async () => {
    if (!sel.value) return;
    try { show(await api("/api/sample", {name: sel.value, gray: box.querySelector(".gray").checked})); }
    catch (e) { say(status, e.message, true); }
  };
  sel.addEventListener("change", pickSample);
  box.querySelector(".gray").addEventListener("change", pickSample);
  return box;
}

function say(node, text, bad = false) {
  node.textContent = text;
  node.classList.toggle("error", bad);
}

// ------------------------------------------------------------------ jobs
function runJob(prefix, endpoint, body, render) {
  const run = $(`#${prefix}-run`), cancel = $(`#${prefix}-cancel`);
  const status = $(`#${prefix}-status`), bar = $(`#${prefix}-progress`);
  run.disabled = true;
  bar.value = 0;
  say(status, "submitting...");
  let jobId = null;
  cancel.onclick = async () => { if (jobId) await api(`/api/jobs/${jobId}/cancel`, {}); };
  const finish = () => { run.disabled = false; cancel.disabled = true; };
  api(endpoint, body).then(job => {
    jobId = job.id;
    cancel.disabled = false;
    const poll = async () => {
      let j;
      try { j = await api(`/api/jobs/${jobId}`); } catch (e) { say(status, e.message, true); finish(); return; }
      bar.value = j.progress;
      const where = j.state === "queued" && j.queue_position ? ` (place ${j.queue_position} in the queue)` : "";
      say(status, `${j.state}: ${j.message}${where}`, j.state === "failed");
      if (j.result && Object.keys(j.result).length) render(j.result, j.state);
      if (["done", "failed", "cancelled"].includes(j.state)) { finish(); status.dataset.state = j.state; return; }
      setTimeout(poll, 300);
    };
    poll();
  }).catch(e => { say(status, e.message, true); finish(); });
}

function compare(beforeUrl, afterUrl, label) {
  // a before/after slider: the result over the input, clipped from the right by the range input
  const top = el("img", {src: afterUrl, class: "top", alt: label});
  const wrap = el("div", {class: "compare"}, el("img", {src: beforeUrl, alt: "input"}), top);
  const range = el("input", {type: "range", min: "0", max: "100", value: "50", "aria-label": `before/after ${label}`});
  const set = () => { top.style.clipPath = `inset(0 ${100 - range.value}% 0 0)`; };
  range.addEventListener("input", set);
  set();
  return el("div", {}, wrap, range);
}

function card(title, ...kids) {
  return el("div", {class: "card"}, el("h3", {text: title}), ...kids);
}

// ------------------------------------------------------------------ restore
function restoreTab() {
  const status = $("#r-status");
  const picker = makePicker($("#restore-pick"), status);
  const task = $("#r-task"), mode = $("#r-mode");
  const methods = $("#r-methods");
  const fill = () => {
    const t = INFO.tasks[task.value];
    methods.replaceChildren();
    for (const m of t.methods) {
      const cost = t.seconds_per_mp[m];
      const box = el("input", {type: "checkbox", value: m, name: "method"});
      box.checked = m === t.default;
      methods.append(el("label", {}, el("span", {}, box, ` ${m}`),
                        el("small", {text: cost === undefined ? "" : `~${cost < 90 ? cost + " s" : Math.round(cost / 60) + " min"} / MP`})));
      const knobs = t.knobs[m] || [];
      if (knobs.length) {
        const det = el("details", {class: "knobs", "data-method": m}, el("summary", {text: `${m} knobs`}));
        for (const k of knobs) {
          const shown = k.default === null ? "auto" : String(k.default);
          det.append(el("label", {}, `${k.name} `, el("input", {"data-knob": k.name, placeholder: shown, size: "8"})));
        }
        methods.append(det);
      }
    }
    for (const o of document.querySelectorAll("#restore .opt")) {
      const show = o.classList.contains(task.value) &&
                   (!o.classList.contains("degraded-only") || mode.value === "degraded");
      o.hidden = !show;
    }
  };
  task.addEventListener("change", fill);
  mode.addEventListener("change", fill);
  fill();
  let maskId = null;
  $("#r-mask-file").addEventListener("change", async (ev) => {
    const form = new FormData();
    form.append("file", ev.target.files[0]);
    try { maskId = (await api("/api/upload", form, true)).id; } catch (e) { say(status, e.message, true); }
  });
  $("#r-run").addEventListener("click", () => {
    if (!picker.dataset.id) { say(status, "image: upload one or pick a sample first", true); return; }
    const chosen = [...methods.querySelectorAll("input:checked")].map(b => b.value);
    if (!chosen.length) { say(status, "methods: tick at least one", true); return; }
    const knobs = {};
    for (const det of methods.querySelectorAll("details.knobs")) {
      for (const inp of det.querySelectorAll("input[data-knob]")) {
        const v = inp.value.trim();
        if (!v) continue;
        const val = v === "true" ? true : v === "false" ? false : (v !== "" && !isNaN(+v) ? +v : v);
        (knobs[det.dataset.method] ||= {})[inp.dataset.knob] = val;
      }
    }
    const body = {image: picker.dataset.id, task: task.value, mode: mode.value, methods: chosen, knobs,
                  noise: +$("#r-noise").value, blur: $("#r-blur").value, scale: +$("#r-scale").value,
                  mask: $("#r-mask").value, seed: +$("#r-seed").value, mask_image: maskId,
                  sigma: mode.value === "simulate" && ["denoise", "deblur"].includes(task.value) && +$("#r-noise").value > 0
                         ? +$("#r-noise").value : "auto"};
    const out = $("#r-results");
    out.replaceChildren();
    runJob("r", "/api/restore", body, (res) => {
      out.replaceChildren();
      const im = res.input_metrics ? `PSNR ${fmt(res.input_metrics.psnr)} dB, SSIM ${fmt(res.input_metrics.ssim, 3)}` : "";
      out.append(card(mode.value === "simulate" ? "degraded input" : "input", el("img", {src: res.input, alt: "input"}),
                      el("div", {class: "metrics", text: im})));
      for (const m of res.methods) {
        const metrics = (m.psnr !== undefined ? `PSNR ${fmt(m.psnr)} dB, SSIM ${fmt(m.ssim, 3)}, ` : "") + `${fmt(m.time_s)} s`;
        out.append(card(m.method, compare(res.input, m.image, m.method),
                        el("div", {class: "metrics", "data-method": m.method, text: metrics}),
                        el("a", {href: m.image, download: `${m.method}.png`, text: "download"})));
      }
    });
  });
}

// ------------------------------------------------------------------ compress
function compressTab() {
  const status = $("#c-status");
  const picker = makePicker($("#compress-pick"), status);
  const control = $("#c-control"), q = $("#c-quality");
  q.addEventListener("input", () => { $("#c-quality-out").textContent = q.value; });
  control.addEventListener("change", () => {
    $(".c-quality").hidden = control.value !== "quality";
    $(".c-bytes").hidden = control.value !== "bytes";
  });
  $("#c-run").addEventListener("click", () => {
    if (!picker.dataset.id) { say(status, "image: upload one or pick a sample first", true); return; }
    const body = {image: picker.dataset.id, quality: +q.value, rd: $("#c-rd").checked, zoom: +$("#c-zoom").value,
                  max_bytes: control.value === "bytes" ? +$("#c-bytes").value : null};
    const out = $("#c-results");
    out.replaceChildren();
    runJob("c", "/api/compress", body, (res) => {
      out.replaceChildren();
      const m = res.metrics;
      const table = el("table", {id: "c-table"},
        el("tr", {}, el("th", {text: ""}), el("th", {text: "bytes"}), el("th", {text: "bpp"}), el("th", {text: "PSNR dB"}), el("th", {text: "SSIM"})),
        el("tr", {"data-codec": "fractal"}, el("td", {text: "fractal"}), el("td", {text: m.bytes}), el("td", {text: fmt(m.bpp, 3)}),
           el("td", {text: fmt(m.psnr)}), el("td", {text: fmt(m.ssim, 3)})));
      if (m.jpeg_bytes !== undefined)
        table.append(el("tr", {"data-codec": "jpeg"}, el("td", {text: `JPEG q${m.jpeg_quality}`}), el("td", {text: m.jpeg_bytes}),
                        el("td", {text: fmt(m.jpeg_bpp, 3)}), el("td", {text: fmt(m.jpeg_psnr)}), el("td", {text: fmt(m.jpeg_ssim, 3)})));
      out.append(card("fractal decode vs original", compare(res.original, res.decoded, "fractal"), table,
                      el("a", {href: res.aipf, download: "image.aipf", text: "download .aipf"})));
      if (res.jpeg) out.append(card("JPEG at the same size", el("img", {src: res.jpeg, alt: "jpeg"})));
      if (res.rd) out.append(card("rate-distortion", el("img", {src: res.rd, alt: "rate-distortion curve", id: "c-rd-img"})));
      if (res.zoom) out.append(card(`zoom x${res.zoom.scale} (centre): fractal over bicubic`, compare(res.zoom.bicubic, res.zoom.fractal, "zoom")));
    });
  });
}

// ------------------------------------------------------------------ generate
function generateTab() {
  const sel = $("#g-model");
  for (const m of INFO.models) sel.append(el("option", {value: m.name, text: m.name}));
  const fill = () => {
    const m = INFO.models.find(x => x.name === sel.value);
    $("#g-desc").textContent = m.description;
    const lab = $("#g-label");
    lab.replaceChildren(el("option", {value: "", text: "every class"}));
    for (let i = 0; i < m.num_classes; i++) lab.append(el("option", {value: i, text: i}));
    lab.disabled = !m.num_classes;
    for (const o of document.querySelectorAll(".g-diffusion")) o.hidden = m.name !== "ddpm";
    for (const o of document.querySelectorAll(".g-latent")) o.hidden = m.name === "ddpm";
  };
  sel.addEventListener("change", fill);
  fill();
  $("#g-run").addEventListener("click", () => {
    const body = {model: sel.value, n: +$("#g-n").value, label: $("#g-label").value, seed: +$("#g-seed").value,
                  sampler: $("#g-sampler").value, steps: $("#g-steps").value, guidance: $("#g-guidance").value,
                  interpolate: $("#g-interp").checked && sel.value !== "ddpm"};
    const out = $("#g-results");
    out.replaceChildren();
    runJob("g", "/api/generate", body, (res) => {
      out.replaceChildren(card(`${res.model}: ${res.made} of ${res.n} samples`,
                               el("img", {src: res.grid, alt: "sample grid", id: "g-grid"})));
      if (res.interpolation) out.append(card("latent interpolation", el("img", {src: res.interpolation, alt: "interpolation"})));
      if (res.interpolation_note) out.append(card("latent interpolation", el("div", {class: "note", text: res.interpolation_note})));
    });
  });
}

// ------------------------------------------------------------------ runs
async function loadRuns() {
  const sel = $("#runs-select"), note = $("#runs-note");
  const data = await api("/api/runs");
  if (!data.enabled) { note.textContent = "Start the server with aip serve --runs FOLDER to browse the training runs in FOLDER."; return; }
  const keep = sel.value;
  sel.replaceChildren(el("option", {value: "", text: "choose..."}));
  for (const r of data.runs) sel.append(el("option", {value: r.name, text: `${r.name}${r.model ? " (" + r.model + ")" : ""}`}));
  sel.value = keep;
  note.textContent = `${data.runs.length} runs`;
}

function runsTab() {
  const sel = $("#runs-select");
  $("#runs-refresh").addEventListener("click", loadRuns);
  sel.addEventListener("change", async () => {
    const out = $("#runs-results");
    out.replaceChildren();
    if (!sel.value) return;
    const v = await api(`/api/runs/${encodeURIComponent(sel.value)}`);
    const last = Object.entries(v.last).map(([k, x]) => `${k} ${typeof x === "number" ? +x.toPrecision(4) : x}`).join(", ");
    out.append(card(`${v.name}: loss`, el("img", {src: `${v.loss_plot}?t=${Date.now()}`, alt: "loss curves", id: "runs-loss"}),
                    el("div", {class: "metrics", text: last})));
    for (const s of v.samples) out.append(card(s.split("/").pop(), el("img", {src: s, alt: "samples"})));
  });
}

api("/api/info").then(info => {
  INFO = info;
  restoreTab();
  compressTab();
  generateTab();
  runsTab();
  document.body.dataset.ready = "1";
});
