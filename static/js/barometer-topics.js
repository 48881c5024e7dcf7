/* minyi (民意) — a hot topic's history chart (ECharts, canvas renderer): cases and heat per day, with the rank
 * in the tooltip. The same figures are in the table under the chart, so the page works without this file.
 * Data comes from <script type="application/json" id="topic-history-data"> (Django's json_script); no inline
 * script, no eval, no style attributes in markup (CSP: style-src 'self').
 */
(function () {
  "use strict";

  var COLORS = ["#0b4f9c", "#c8161d"];

  function draw() {
    var holder = document.getElementById("topic-history-chart");
    var source = document.getElementById("topic-history-data");
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
    var ranks = (data.rank && data.rank.values) || [];
    var option = {
      color: COLORS,
      textStyle: { fontFamily: font },
      animation: false,
      aria: { enabled: true },
      grid: { left: 48, right: 56, top: 48, bottom: 32 },
      legend: { top: 0 },
      tooltip: {
        trigger: "axis",
        className: "topic-tooltip",
        textStyle: { fontFamily: font },
        // Our own markup, escaped, without style attributes (the CSP allows no inline styles).
        formatter: function (params) {
          var encode = window.echarts.format.encodeHTML;
          if (!params.length) {
            return "";
          }
          var index = params[0].dataIndex;
          var lines = ["<strong>" + encode(params[0].axisValue) + "</strong>"];
          params.forEach(function (item) {
            lines.push(encode(item.seriesName) + "：" + encode(String(item.value)));
          });
          if (ranks[index] !== null && ranks[index] !== undefined && data.rank.name) {
            lines.push(encode(data.rank.name) + "：" + encode(String(ranks[index])));
          }
          return lines.join("<br>");
        }
      },
      xAxis: { type: "category", boundaryGap: false, data: data.days },
      yAxis: [
        { type: "value", min: 0, minInterval: 1, name: data.series[0].name },
        { type: "value", min: 0, name: data.series[1].name, splitLine: { show: false } }
      ],
      series: data.series.map(function (item, index) {
        return {
          name: item.name,
          type: "line",
          yAxisIndex: index,
          showSymbol: data.days.length < 40,
          data: item.values
        };
      })
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
