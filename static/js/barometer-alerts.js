/* minyi (民意) — an early warning's chart (ECharts, canvas renderer): the key's daily counts as bars, with the
 * expected count (baseline) and the alarm line per day of the surge drawn across the whole period, and the surge's
 * days shaded. The same figures are in the table
 * under the chart, so the page works without this file. Data comes from
 * <script type="application/json" id="warning-chart-data"> (Django's json_script); no inline script, no eval,
 * no style attributes in markup (CSP: style-src 'self').
 */
(function () {
  "use strict";

  function number(value) {
    return value === null || value === undefined || value === "-" ? "—" : String(value);
  }

  function draw() {
    var holder = document.getElementById("warning-chart");
    var source = document.getElementById("warning-chart-data");
    if (!holder || !source || typeof window.echarts === "undefined") {
      return;
    }
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (error) {
      return;
    }
    if (!data || !data.days || !data.days.length) {
      return;
    }
    holder.classList.add("is-drawn");
    var chart = window.echarts.init(holder, null, { renderer: "canvas" });
    var font = window.getComputedStyle(document.body).fontFamily;
    var names = data.names || {};
    var option = {
      color: ["#0b4f9c", "#1f7a3d", "#c8161d"],
      textStyle: { fontFamily: font },
      animation: false,
      aria: { enabled: true },
      grid: { left: 40, right: 16, top: 40, bottom: 32 },
      legend: { top: 0 },
      tooltip: {
        trigger: "axis",
        className: "warning-tooltip",
        textStyle: { fontFamily: font },
        // Our own markup, escaped, without style attributes (the CSP allows no inline styles).
        formatter: function (params) {
          var encode = window.echarts.format.encodeHTML;
          var lines = [params.length ? "<strong>" + encode(params[0].axisValue) + "</strong>" : ""];
          params.forEach(function (item) {
            lines.push(encode(item.seriesName) + "：" + encode(number(item.value)));
          });
          return lines.join("<br>");
        }
      },
      xAxis: { type: "category", data: data.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        {
          name: names.count,
          type: "bar",
          data: data.counts,
          markArea: {
            silent: true,
            itemStyle: { color: "rgba(200, 22, 29, 0.08)" },
            label: { show: true, position: "insideTop", fontFamily: font },
            data: [[{ name: names.surge, xAxis: data.start }, { xAxis: data.end }]]
          }
        },
        { name: names.baseline, type: "line", showSymbol: false, data: data.baseline },
        { name: names.threshold, type: "line", showSymbol: false, lineStyle: { type: "dashed" }, data: data.threshold }
      ]
    };
    chart.setOption(option);
    window.addEventListener("resize", function () {
      chart.resize();
    });
    if (document.fonts && document.fonts.ready) {
      document.fonts.ready.then(function () {
        chart.setOption(option, true);
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
