// tokenward web UI: conveniences only. Every page works without this file.
"use strict";

(function () {
  // A page that shows the result of a form post (a new secret, a revocation) replaces its
  // history entry with a plain page, so reloading or going back never posts the form again
  // or shows a secret a second time.
  var replaceUrl = document.body.getAttribute("data-replace-url");
  if (replaceUrl && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", replaceUrl);
  }

  // Copy buttons: <button data-copy="ID"> copies the value of the field with that id.
  function copied(id, text) {
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    if (status) { status.textContent = text; }
  }

  function copyField(id) {
    var field = document.getElementById(id);
    if (!field) { return; }
    var fallback = function () {
      field.focus();
      field.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      copied(id, ok ? "Copied." : "Press Ctrl+C (or ⌘C) to copy the selected token.");
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(function () { copied(id, "Copied."); }, fallback);
    } else {
      fallback();
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copyField(button.getAttribute("data-copy")); });
  });

  // Selecting the whole secret on focus makes a manual copy one keystroke.
  Array.prototype.forEach.call(document.querySelectorAll("input.secret"), function (field) {
    field.addEventListener("focus", function () { field.select(); });
  });

  // Forms with data-confirm ask once more before they are sent.
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // Choosing an expiry date selects "Until a date".
  var date = document.getElementById("expires_on");
  var byDate = document.getElementById("lifetime-date");
  if (date && byDate) {
    date.addEventListener("input", function () { if (date.value) { byDate.checked = true; } });
  }
})();
