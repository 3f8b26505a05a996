// Seatkeeper's own page script. The pages work without it (plain forms and redirects); with it,
// htmx requests carry the CSRF token, "select all" boxes work, and a selection limit is counted.
(function () {
  "use strict";
  var csrf = document.body ? document.body.getAttribute("data-csrf") : "";

  // Words that are true only with this script (e.g. "This page updates itself") are marked
  // <… data-js-only hidden>: shown once the script runs; words only for pages without it are
  // marked <… data-no-js>: hidden then. htmx may swap either in later.
  function showJsOnly(root) {
    (root || document).querySelectorAll("[data-js-only][hidden]").forEach(function (el) {
      el.hidden = false;
    });
    (root || document).querySelectorAll("[data-no-js]").forEach(function (el) {
      el.hidden = true;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { showJsOnly(document); });
  document.addEventListener("htmx:afterSettle", function () { showJsOnly(document); });

  // htmx requests send the session's CSRF token in a header.
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) { e.detail.headers["X-CSRF-Token"] = csrf; }
  });

  // <input type="checkbox" data-select-all="name"> checks every box named `name` in its form.
  document.addEventListener("change", function (e) {
    var box = e.target;
    var name = box.getAttribute && box.getAttribute("data-select-all");
    if (!name) { return; }
    var scope = box.form || document;
    var max = limitOf(box.form, name);
    var n = 0;
    scope.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (b) {
      if (b.checked && box.checked) { n += 1; }
    });
    scope.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (b) {
      if (!box.checked) { b.checked = false; return; }
      if (!b.checked && n < max) { b.checked = true; n += 1; }
    });
    if (box.form) { countPicked(box.form); }
  });

  // <form data-max-checked="20" data-max-name="user" data-max-status="id">: counts the checked
  // boxes named `user` into the element `id` and disables the rest once 20 are checked.
  function limitOf(form, name) {
    if (!form || form.getAttribute("data-max-name") !== name) { return Infinity; }
    return parseInt(form.getAttribute("data-max-checked"), 10) || Infinity;
  }
  function countPicked(form) {
    var name = form.getAttribute("data-max-name");
    var max = limitOf(form, name);
    if (max === Infinity) { return; }
    var boxes = form.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
    var n = 0;
    boxes.forEach(function (b) { if (b.checked) { n += 1; } });
    boxes.forEach(function (b) { b.disabled = !b.checked && n >= max; });
    var status = document.getElementById(form.getAttribute("data-max-status"));
    if (status) {
      status.textContent = n === 0
        ? "Select up to " + max + " users in the table first."
        : n >= max
        ? n + " of " + max + " selected: that is the most at one time. Clear a box to pick another."
        : n + " of " + max + " selected.";
    }
  }
  document.addEventListener("change", function (e) {
    var box = e.target;
    if (box.form && box.form.hasAttribute("data-max-checked") && box.getAttribute("name") === box.form.getAttribute("data-max-name")) {
      countPicked(box.form);
    }
  });
  document.querySelectorAll("form[data-max-checked]").forEach(countPicked);
})();

// <input type="checkbox" data-pick-into="id"> (a search result of a people picker): checking it
// moves its label into the list with that id, so it stays picked when the results change.
document.addEventListener("change", function (e) {
  var box = e.target;
  var into = box.getAttribute && box.getAttribute("data-pick-into");
  if (!into || !box.checked) { return; }
  var list = document.getElementById(into);
  var label = box.closest("label");
  if (list && label) {
    box.removeAttribute("data-pick-into");
    list.appendChild(label);
    box.focus();
  }
});
