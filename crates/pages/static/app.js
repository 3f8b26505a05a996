// Seatkeeper's own page script. The pages work without it (plain forms and redirects); with it,
// htmx requests carry the CSRF token, destructive actions ask first, and "select all" boxes work.
(function () {
  "use strict";
  var csrf = document.body ? document.body.getAttribute("data-csrf") : "";

  // htmx requests send the session's CSRF token in a header.
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) { e.detail.headers["X-CSRF-Token"] = csrf; }
  });

  // <form data-confirm="Delete 3 users?"> asks before submitting.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var button = e.submitter;
    var text = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (text && !window.confirm(text)) { e.preventDefault(); e.stopImmediatePropagation(); }
  }, true);

  // <input type="checkbox" data-select-all="name"> checks every box named `name` in its form.
  document.addEventListener("change", function (e) {
    var box = e.target;
    var name = box.getAttribute && box.getAttribute("data-select-all");
    if (!name) { return; }
    var scope = box.form || document;
    scope.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (b) {
      b.checked = box.checked;
    });
  });
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
