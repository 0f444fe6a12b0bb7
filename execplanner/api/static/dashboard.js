// Progressive enhancement, and the only script the dashboard has: a page showing a session that can still move
// asks the service for it every two seconds and reloads when its phase has changed. Without script the page
// works the same; it just does not refresh itself.
(function () {
  "use strict";
  var SAME = { READY: "AVAILABLE", PROPOSED: "INITIAL" };  // 2025-dialect names of the same phases

  function follow(element) {
    var url = element.getAttribute("data-follow");
    var shown = element.getAttribute("data-phase");
    var note = element.querySelector(".live-note");
    if (note) { note.hidden = false; }
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (session) {
          var phase = session && (SAME[session.phase] || session.phase);
          if (phase && phase !== shown) { window.location.reload(); } else { window.setTimeout(tick, 2000); }
        })
        .catch(function () { window.setTimeout(tick, 5000); });
    }
    window.setTimeout(tick, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var element = document.querySelector("[data-follow]");
    if (element && window.fetch) { follow(element); }
  });
})();
