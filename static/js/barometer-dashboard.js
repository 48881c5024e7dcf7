/* minyi (民意) — the barometer dashboard's charts (ECharts, canvas renderer). Every chart's figures are also in
 * the table under it, so the page works without this file. Data come from
 * <script type="application/json" id="barometer-data"> (Django's json_script); no inline script, no eval, no
 * style attributes in markup (CSP: style-src 'self'). A click on a bar, slice or point opens the workbench with
 * the cases behind it (only our own relative links are followed).
 */
(function () {
  "use strict";

  var COLORS = ["#0b4f9c", "#9aa5b1", "#1f7a3d", "#c8161d", "#9a5b00", "#6b3fa0", "#00838f", "#5d6d7e"];
  var GAP = "#c8161d";
  var PLAIN = "#0b4f9c";

  function safeUrl(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" && url.charAt(1) !== "\\";
  }

  function value(v) {
    return v === null || v === undefined ? "-" : v;
  }

  function tooltip(percent, encode) {
    return function (params) {
      var list = Array.isArray(params) ? params : [params];
      var lines = [];
      if (list.length) {
        lines.push("<strong>" + encode(list[0].name || list[0].axisValue || "") + "</strong>");
      }
      list.forEach(function (item) {
        var shown = item.value === "-" || item.value === null || item.value === undefined ? "—" : item.value;
        if (percent && shown !== "—") {
          shown = Number(shown).toFixed(1) + "%";
        }
        var name = item.seriesName && item.seriesName.indexOf("series") !== 0 ? encode(item.seriesName) + "：" : "";
        lines.push(name + encode(String(shown)) + (item.percent !== undefined ? "（" + item.percent + "%）" : ""));
      });
      return lines.join("<br>");
    };
  }

  function option(spec, font) {
    var encode = window.echarts.format.encodeHTML;
    var base = {
      color: COLORS,
      textStyle: { fontFamily: font },
      animation: false,
      aria: { enabled: true },
      tooltip: {
        trigger: spec.type === "pie" ? "item" : "axis",
        className: "baro-tooltip",
        textStyle: { fontFamily: font },
        formatter: tooltip(Boolean(spec.percent), encode)
      }
    };
    if (spec.type === "pie") {
      base.legend = { type: "scroll", bottom: 0 };
      base.series = [
        {
          type: "pie",
          radius: ["35%", "65%"],
          center: ["50%", "45%"],
          label: { formatter: "{b}\n{d}%" },
          data: spec.labels.map(function (label, i) {
            var item = { name: label, value: spec.series[0].values[i] };
            if (spec.livelihood && spec.livelihood[i]) {
              item.itemStyle = { borderColor: "#9a5b00", borderWidth: 3 };
            }
            return item;
          })
        }
      ];
      return base;
    }
    var horizontal = spec.type === "hbar";
    var category = {
      type: "category",
      data: spec.labels,
      inverse: horizontal,
      axisLabel: { interval: horizontal ? 0 : "auto", hideOverlap: true }
    };
    var numbers = { type: "value", axisLabel: { formatter: spec.percent ? "{value}%" : "{value}" } };
    base.grid = { left: horizontal ? 160 : 48, right: 24, top: spec.series.length > 1 ? 40 : 16, bottom: 40, containLabel: !horizontal };
    base.xAxis = horizontal ? numbers : category;
    base.yAxis = horizontal ? category : numbers;
    if (spec.series.length > 1) {
      base.legend = { top: 0, type: "scroll" };
    }
    base.series = spec.series.map(function (series, index) {
      var line = spec.type === "line";
      return {
        name: series.name || spec.title,
        type: line ? "line" : "bar",
        connectNulls: false,
        showSymbol: true,
        lineStyle: line && index === 1 && !spec.percent ? { type: "dashed" } : undefined,
        data: series.values.map(function (v, i) {
          if (spec.type !== "gap") {
            return value(v);
          }
          return { value: value(v), itemStyle: { color: spec.gap[i] ? GAP : PLAIN } };
        })
      };
    });
    return base;
  }

  function draw() {
    var source = document.getElementById("barometer-data");
    if (!source || typeof window.echarts === "undefined") {
      return;
    }
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (error) {
      return;
    }
    // The canvas draws text itself: give it the page's web font (Noto Sans SC), or Chinese may not render.
    var font = window.getComputedStyle(document.body).fontFamily;
    var drawn = [];
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), function (holder) {
      var spec = data[holder.getAttribute("data-chart")];
      if (!spec || spec.empty) {
        return;
      }
      holder.classList.add("is-drawn");
      var chart = window.echarts.init(holder, null, { renderer: "canvas" });
      var opts = option(spec, font);
      chart.setOption(opts);
      chart.on("click", function (params) {
        var url = spec.urls ? spec.urls[params.dataIndex] : null;
        if (safeUrl(url)) {
          window.location.assign(url);
        }
      });
      drawn.push({ chart: chart, option: opts });
    });
    window.addEventListener("resize", function () {
      drawn.forEach(function (item) {
        item.chart.resize();
      });
    });
    if (document.fonts && document.fonts.ready) {
      // Redraw once the web font has loaded (the first drawing may have used a fallback).
      document.fonts.ready.then(function () {
        drawn.forEach(function (item) {
          item.chart.setOption(item.option, true);
        });
        document.body.setAttribute("data-charts-drawn", String(drawn.length));
      });
    } else {
      document.body.setAttribute("data-charts-drawn", String(drawn.length));
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
