// Usage per day and meter over the month, drawn with uPlot (served locally, like every asset).
(function () {
  const el = document.getElementById("usage-chart");
  const data = JSON.parse(document.getElementById("usage-data").textContent);
  if (!el || !window.uPlot) return;
  if (!data.x.length) { el.textContent = "No usage recorded this month yet."; el.classList.add("muted"); return; }
  const colours = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777"];
  const compact = new Intl.NumberFormat("en", { notation: "compact" });
  const series = [{ value: (u, v) => v == null ? "" : new Date(v * 1000).toISOString().slice(0, 10) }]
    .concat(data.meters.map((m, i) => ({
      label: m, stroke: colours[i % colours.length], width: 2,
      points: { show: true, size: 7, fill: colours[i % colours.length] },
      value: (u, v) => v == null ? "" : v.toLocaleString(),
    })));
  // Meters differ by orders of magnitude (µs of compute vs actions): a log scale keeps all readable.
  const opts = {
    width: el.clientWidth || 800, height: 260, series,
    scales: { x: { time: true, range: () => [data.range[0] - 43200, data.range[1] + 43200] }, y: { distr: 3 } },
    // Label the powers of ten only: a log axis has nine ticks per decade.
    axes: [{}, { size: 56, values: (u, ticks) => ticks.map(t => Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9 ? compact.format(t) : "") }],
  };
  const plot = new uPlot(opts, [data.x].concat(data.series.map(s => s.map(v => v || null))), el);
  window.addEventListener("resize", () => plot.setSize({ width: el.clientWidth, height: 260 }));
})();
