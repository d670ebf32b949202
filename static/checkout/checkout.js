// The hosted page's small helpers. No inline scripts anywhere: the CSP forbids them.
(function () {
  "use strict";

  // Copy buttons: copy the exact value, then say so for a moment.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var value = button.getAttribute("data-copy");
    var done = function () {
      var original = button.textContent;
      button.textContent = button.getAttribute("data-copied");
      button.classList.add("copied");
      setTimeout(function () {
        button.textContent = original;
        button.classList.remove("copied");
      }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, done);
    } else {
      // Plain http (local development): the older way still works.
      var area = document.createElement("textarea");
      area.value = value;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
      done();
    }
  });

  // Countdown to the invoice's expiry.
  function tick() {
    document.querySelectorAll(".countdown[data-expires]").forEach(function (element) {
      var left = Math.floor((Date.parse(element.getAttribute("data-expires")) - Date.now()) / 1000);
      var out = element.querySelector(".remaining");
      if (!out) return;
      if (left <= 0) {
        out.textContent = element.getAttribute("data-expired-text");
        return;
      }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      out.textContent = (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);

  // On a final status, go back to the shop after a few seconds (the button works at once).
  var leaving = false;
  function returnSoon() {
    var link = document.querySelector("[data-return-url]");
    if (!link || leaving) return;
    leaving = true;
    var url = link.getAttribute("data-return-url");
    if (!/^https?:\/\//i.test(url)) return;
    setTimeout(function () { window.location.assign(url); },
      1000 * parseInt(link.getAttribute("data-return-after") || "5", 10));
  }
  document.addEventListener("DOMContentLoaded", returnSoon);
  document.addEventListener("htmx:afterSettle", returnSoon);
})();
