// The fleet as a heat map: one cell per car, so 10,000 cars are one block of 6-pixel cells a
// person reads at a glance; aggregates above, filters beside, the table lists what matches.
// Polls /console/fleet/data (columnar JSON) every 2 s and redraws.
(function () {
  const canvas = document.getElementById("fleet-map");
  if (!canvas) return;
  const COLOURS = { parked: "#16a34a", charging: "#2563eb", driving: "#9ca3af", low_battery: "#d97706", throttled: "#9333ea", lost: "#dc2626" };
  const $ = (id) => document.getElementById(id);
  const stateSel = $("f-state"), owner = $("f-owner"), battery = $("f-battery"), shade = $("f-shade");
  let data = null, shown = [], cell = 8, cols = 1, focus = 0;

  function ramp(v) { // 0 -> red, 1 -> green
    const h = Math.round(120 * Math.max(0, Math.min(1, v)));
    return `hsl(${h} 70% 45%)`;
  }
  function matches(i) {
    if (stateSel.value && data.states[data.state[i]] !== stateSel.value) return false;
    const q = owner.value.trim().toLowerCase();
    if (q && !data.owners[i].toLowerCase().includes(q) && !data.ids[i].toLowerCase().includes(q)) return false;
    if (battery.value !== "" && data.battery[i] * 100 >= Number(battery.value)) return false;
    return true;
  }
  function colourOf(i) {
    if (shade.value === "state") return COLOURS[data.states[data.state[i]]];
    return ramp(data[shade.value][i]);
  }
  function draw() {
    if (!data) return;
    const n = data.ids.length;
    shown = [];
    for (let i = 0; i < n; i++) if (matches(i)) shown.push(i);
    const width = canvas.parentElement.clientWidth || 960;
    cell = n > 5000 ? 6 : n > 1000 ? 9 : n > 100 ? 14 : 22;
    cols = Math.max(1, Math.floor(width / cell));
    canvas.width = width;
    canvas.height = Math.max(cell, Math.ceil(n / cols) * cell);
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, canvas.width, canvas.height);
    const keep = new Set(shown);
    for (let i = 0; i < n; i++) {
      g.globalAlpha = keep.has(i) ? 1 : 0.12;
      g.fillStyle = colourOf(i);
      g.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - 1, cell - 1);
    }
    g.globalAlpha = 1;
    if (document.activeElement === canvas && n) {
      g.strokeStyle = "#111"; g.lineWidth = 2;
      g.strokeRect((focus % cols) * cell, Math.floor(focus / cols) * cell, cell - 1, cell - 1);
    }
    table();
  }
  function counts() {
    $("fleet-counts").innerHTML = data.states.map(s =>
      `<div class="tile" data-state="${s}"><span class="dot" style="background:${COLOURS[s]}"></span><b>${data.counts[s].toLocaleString()}</b> ${s.replace("_", " ")}</div>`
    ).join("") + `<div class="tile"><b>${data.ids.length.toLocaleString()}</b> cars</div>` +
      `<div class="tile"><b>${data.active_leases.toLocaleString()}</b> leases</div>` +
      `<div class="tile"><b>${Math.round(data.mean_battery * 100)}%</b> mean battery</div>`;
    $("fleet-legend").innerHTML = data.states.map(s => `<span><i style="background:${COLOURS[s]}"></i>${s.replace("_", " ")}</span>`).join("");
  }
  function row(i) {
    const s = data.states[data.state[i]];
    return `<tr data-car="${data.ids[i]}"><td>${data.ids[i]}</td><td><span class="status c-${s}" data-state="${s}">${s.replace("_", " ")}</span></td><td>${data.owners[i]}</td>` +
      `<td class="num">${Math.round(data.battery[i] * 100)}%</td><td class="num">${data.leases[i]}</td>` +
      `<td class="num">${Math.round(data.utilisation[i] * 100)}%</td><td class="num">${Math.round(data.reliability[i] * 100)}%</td><td class="num">${data.earnings[i]}</td></tr>`;
  }
  function table() {
    const limit = 200;
    $("fleet-shown").textContent = `${shown.length.toLocaleString()} match` + (shown.length > limit ? `, first ${limit} listed` : "");
    document.querySelector("#fleet-table tbody").innerHTML = shown.slice(0, limit).map(row).join("");
  }
  function tip(i) {
    if (i < 0 || i >= data.ids.length) { $("fleet-tip").textContent = ""; return; }
    $("fleet-tip").textContent = `${data.ids[i]} · ${data.states[data.state[i]].replace("_", " ")} · battery ${Math.round(data.battery[i] * 100)}% · ${data.leases[i]} lease(s) · owner ${data.owners[i]} · earned ${data.earnings[i]}`;
  }
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect();
    const i = Math.floor((e.clientY - r.top) / cell) * cols + Math.floor((e.clientX - r.left) / cell);
    if (data) tip(i);
  });
  canvas.addEventListener("keydown", (e) => { // keyboard: arrows walk the grid
    if (!data) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    focus = Math.max(0, Math.min(data.ids.length - 1, focus + step));
    tip(focus); draw();
  });
  canvas.addEventListener("focus", draw);
  for (const el of [stateSel, owner, battery, shade]) el.addEventListener("input", draw);

  async function poll() {
    try {
      const r = await fetch("/console/fleet/data", { headers: { Accept: "application/json" } });
      if (r.status === 401) { location.href = "/console/login"; return; }
      data = await r.json();
      if (stateSel.options.length === 1) for (const s of data.states) stateSel.add(new Option(s.replace("_", " "), s));
      counts(); draw();
      $("fleet-updated").textContent = "live · " + new Date().toLocaleTimeString();
      canvas.dataset.loaded = "1";
    } finally {
      setTimeout(poll, 2000);
    }
  }
  poll();
})();
