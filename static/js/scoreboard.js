/* minyi (民意) — the scoreboard trend chart (ECharts, canvas renderer). The same figures are in the table
 * under the chart, so the page works without this file. Data comes from
 * <script type="application/json" id="score-trend-data"> (Django's json_script); no inline script, no eval,
 * no style attributes in markup (CSP: style-src 'self').
 */
(function () {
  "use strict";

  var COLORS = ["#0b4f9c", "#1f7a3d", "#c8161d", "#9a5b00", "#6b3fa0", "#00838f"];

  function percent(value) {
    return value === null || value === undefined || value === "-" ? "—" : Number(value).toFixed(1) + "%";
  }

  function draw() {
    var holder = document.getElementById("score-trend-chart");
    var source = document.getElementById("score-trend-data");
    if (!holder || !source || typeof window.echarts === "undefined") {
      return;
    }
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (error) {
      return;
    }
    holder.classList.add("is-drawn");
    var chart = window.echarts.init(holder, null, { renderer: "canvas" });
    // The canvas draws text itself: give it the page's web font (Noto Sans SC), or Chinese may not render.
    var font = window.getComputedStyle(document.body).fontFamily;
    var option = {
      color: COLORS,
      textStyle: { fontFamily: font },
      animation: false,
      aria: { enabled: true },
      grid: { left: 48, right: 24, top: 56, bottom: 32 },
      legend: { top: 0, type: "scroll" },
      tooltip: {
        trigger: "axis",
        className: "score-tooltip",
        textStyle: { fontFamily: font },
        // Our own markup, escaped, without style attributes (the CSP allows no inline styles); ECharts
        // positions the box through the CSSOM, which the CSP permits.
        formatter: function (params) {
          var encode = window.echarts.format.encodeHTML;
          var lines = [params.length ? "<strong>" + encode(params[0].axisValue) + "</strong>" : ""];
          params.forEach(function (item) {
            lines.push(encode(item.seriesName) + "：" + encode(percent(item.value)));
          });
          return lines.join("<br>");
        }
      },
      xAxis: { type: "category", boundaryGap: false, data: data.months },
      yAxis: {
        type: "value",
        min: 0,
        max: 100,
        name: data.axis,
        axisLabel: { formatter: "{value}%" }
      },
      series: data.series.map(function (item) {
        return {
          name: item.name,
          type: "line",
          connectNulls: false,
          showSymbol: true,
          data: item.values.map(function (value) {
            return value === null ? "-" : value;
          })
        };
      })
    };
    chart.setOption(option);
    window.addEventListener("resize", function () {
      chart.resize();
    });
    if (document.fonts && document.fonts.ready) {
      // Redraw once the web font has loaded (the first drawing may have used a fallback).
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
