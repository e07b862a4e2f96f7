// Focus lands where the content changed (WCAG 2.4.3, 3.3.1): after a form comes back with
// errors, on its error summary; after a saved step, on the notice that says so. A link of an
// error summary moves focus to its field (a bare fragment would only scroll there). Without
// JavaScript the summary is still the first thing in the content and announced (role="alert").
(function () {
  "use strict";

  function focusChanged() {
    var target = document.querySelector("[data-focus-on-load]");
    if (!target) {
      return;
    }
    if (!target.hasAttribute("tabindex")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
  }

  function focusField(event) {
    var link = event.target.closest ? event.target.closest(".error-summary a[href^='#']") : null;
    if (!link) {
      return;
    }
    var target = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!target) {
      return;
    }
    var field = target.matches("input, select, textarea, button")
      ? target
      : target.querySelector("input:checked, input, select, textarea");
    if (!field) {
      return;
    }
    event.preventDefault();
    var group = field.closest("fieldset");
    (group || field).scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  }

  document.addEventListener("click", focusField);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusChanged);
  } else {
    focusChanged();
  }
})();
