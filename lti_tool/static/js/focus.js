// Focus lands where the content changed (WCAG 2.4.3, 3.3.1): after a form comes back with
// errors, on its error summary; after a saved step, on the notice that says so. Without
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
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusChanged);
  } else {
    focusChanged();
  }
})();
