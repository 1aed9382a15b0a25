// The status page's two charts (page.py), drawn by the vendored Chart.js from the series in #series.
(function () {
  const series = JSON.parse(document.getElementById("series").textContent);
  if (!window.Chart) return;
  const common = { animation: false, responsive: true, maintainAspectRatio: false,
                   plugins: { legend: { display: false } } };
  new Chart(document.getElementById("cost"), { type: "bar", data: { labels: series.days,
    datasets: [{ label: "USD", data: series.cost, backgroundColor: "#0969da" }] }, options: common });
  new Chart(document.getElementById("rate"), { type: "line", data: { labels: series.days,
    datasets: [{ label: "%", data: series.rate, borderColor: "#1a7f37", backgroundColor: "#1a7f37",
                 spanGaps: true }] },
    options: { ...common, scales: { y: { min: 0, max: 100 } } } });
  document.body.dataset.charts = "drawn";
})();
