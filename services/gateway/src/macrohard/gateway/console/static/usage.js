// Usage per day and meter, drawn with uPlot (served locally, like every asset).
(function () {
  const el = document.getElementById("usage-chart");
  const data = JSON.parse(document.getElementById("usage-data").textContent);
  if (!el || !window.uPlot) return;
  if (!data.x.length) { el.textContent = "No usage recorded this month yet."; el.classList.add("muted"); return; }
  const colours = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777"];
  const series = [{}].concat(data.meters.map((m, i) => ({
    label: m, stroke: colours[i % colours.length], width: 2, points: { show: true },
  })));
  // Meters differ by orders of magnitude (µs of compute vs actions): a log scale keeps all readable.
  const opts = {
    width: el.clientWidth || 800, height: 260, series,
    scales: { x: { time: true }, y: { distr: 3 } },
    axes: [{}, { size: 70 }],
  };
  const plot = new uPlot(opts, [data.x].concat(data.series.map(s => s.map(v => v || null))), el);
  window.addEventListener("resize", () => plot.setSize({ width: el.clientWidth, height: 260 }));
})();
