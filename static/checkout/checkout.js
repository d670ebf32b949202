// The hosted page's small helpers. No inline scripts anywhere: the CSP forbids them.
(function () {
  "use strict";

  // The page's live region (#announcer) stays while the status box is replaced on every
  // poll: a screen reader hears when the status really moves, and when a value is copied.
  function announce(text) {
    var region = document.getElementById("announcer");
    if (region) region.textContent = text;
  }
  var shownStatus = null;
  function followStatus() {
    var box = document.getElementById("status");
    if (!box) return;
    var status = box.getAttribute("data-status");
    if (shownStatus !== null && status !== shownStatus) {
      announce(Array.prototype.map.call(box.querySelectorAll("p"), function (line) {
        return line.textContent.replace(/\s+/g, " ").trim();
      }).join(" "));
    }
    shownStatus = status;
  }
  document.addEventListener("DOMContentLoaded", followStatus);
  document.addEventListener("htmx:afterSettle", followStatus);

  // Copy buttons: copy the exact value, then say so for a moment (the button's name stays
  // "Copy <label>", its aria-label, so the live region says it).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var value = button.getAttribute("data-copy");
    var done = function () {
      // Clicked again while it says "Copied": still back to its own label, 2 s after the last.
      if (!button.hasAttribute("data-label")) button.setAttribute("data-label", button.textContent);
      button.textContent = button.getAttribute("data-copied");
      button.classList.add("copied");
      announce(button.getAttribute("data-copied"));
      clearTimeout(button.copiedTimer);
      button.copiedTimer = setTimeout(function () {
        button.textContent = button.getAttribute("data-label");
        button.classList.remove("copied");
        var region = document.getElementById("announcer");
        if (region && region.textContent === button.getAttribute("data-copied")) announce("");
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
    var countdowns = document.querySelectorAll(".countdown[data-expires]");
    // None on this page, or a final status took it away (partials/status.html): a timer
    // left running would only wake the phone every second for nothing.
    if (!countdowns.length) {
      clearInterval(ticking);
      return;
    }
    countdowns.forEach(function (element) {
      // Rounded up: "Time is up" only once the deadline has passed, as the server holds it.
      var left = Math.ceil((Date.parse(element.getAttribute("data-expires")) - Date.now()) / 1000);
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
  var ticking = setInterval(tick, 1000);
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
