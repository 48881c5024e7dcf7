/* minyi (民意) — small progressive enhancements. Every page works without this file.
 * Loaded as an external script under CSP `script-src 'self'`: no inline handlers, no eval.
 * Behaviour is declared with data- attributes and bound by event delegation, so content swapped in
 * by htmx works without re-binding.
 */
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.add("js");

  function closest(el, selector) {
    return el && el.closest ? el.closest(selector) : null;
  }

  // data-copy="#element-id": copy that element's text to the clipboard; data-copied="已复制" is the
  // label shown for two seconds afterwards.
  function copyText(button) {
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) {
      return;
    }
    var text = (target.textContent || "").trim();
    navigator.clipboard.writeText(text).then(function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied") || label;
      window.setTimeout(function () {
        button.textContent = label;
      }, 2000);
    });
  }

  // data-toggle-disable="#fieldset-id" on a checkbox: disable the fieldset while the box is ticked
  // (used for "anonymous": the contact fields are not sent).
  function syncToggles(scope) {
    var boxes = (scope || document).querySelectorAll("[data-toggle-disable]");
    Array.prototype.forEach.call(boxes, function (box) {
      var target = document.querySelector(box.getAttribute("data-toggle-disable"));
      if (target) {
        target.disabled = box.checked;
      }
    });
  }

  // data-require-when="name=value" on a field: the field is required while the named radio has that value
  // (the reason is required for a "dissatisfied" rating). The server checks the same rule.
  function syncRequirements(scope) {
    var fields = (scope || document).querySelectorAll("[data-require-when]");
    Array.prototype.forEach.call(fields, function (field) {
      var rule = field.getAttribute("data-require-when").split("=");
      var form = field.form;
      if (!form || rule.length !== 2) {
        return;
      }
      var chosen = form.querySelector('input[name="' + rule[0] + '"]:checked');
      field.required = !!chosen && chosen.value === rule[1];
    });
  }

  document.addEventListener("click", function (event) {
    var copy = closest(event.target, "[data-copy]");
    if (copy) {
      event.preventDefault();
      copyText(copy);
      return;
    }
    var print = closest(event.target, "[data-print]");
    if (print) {
      event.preventDefault();
      window.print();
    }
  });

  document.addEventListener("change", function (event) {
    if (closest(event.target, "[data-toggle-disable]")) {
      syncToggles();
    }
    if (event.target && event.target.type === "radio") {
      syncRequirements(event.target.form || document);
    }
  });

  function init(scope) {
    syncToggles(scope);
    syncRequirements(scope);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      init(document);
    });
  } else {
    init(document);
  }
  document.addEventListener("htmx:load", function (event) {
    init(event.target);
  });
})();
