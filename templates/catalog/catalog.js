(function () {
  "use strict";
  var form = document.getElementById("filters");
  var table = document.getElementById("models");
  if (!form || !table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var selects = Array.prototype.slice.call(form.querySelectorAll("select[data-facet]"));
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");

  var facetAttributes = selects.map(function (select) { return "data-" + select.dataset.facet; });

  // Each option's count is what choosing it would show: the rows that pass the search and every
  // other filter, and have this value. A row that fails exactly one filter counts toward that
  // filter's options only, so one pass over the rows gives every count.
  function apply() {
    var chosen = selects.map(function (select) { return select.value; });
    var tallies = selects.map(function () { return new Map(); });
    var totals = selects.map(function () { return 0; });
    var values = new Array(selects.length);
    function tally(facet, value) {
      tallies[facet].set(value, (tallies[facet].get(value) || 0) + 1);
      totals[facet]++;
    }
    var query = search.value.trim().toLowerCase();
    var count = 0;
    for (var r = 0; r < rows.length; r++) {
      var row = rows[r];
      var found = !query || row.getAttribute("data-search").indexOf(query) !== -1;
      var misses = 0;
      var missed = -1;
      for (var f = 0; f < selects.length; f++) {
        values[f] = row.getAttribute(facetAttributes[f]);
        if (chosen[f] !== "*" && values[f] !== chosen[f]) { misses++; missed = f; }
      }
      var keep = found && misses === 0;
      if (keep) {
        for (var t = 0; t < selects.length; t++) { tally(t, values[t]); }
      } else if (found && misses === 1) {
        tally(missed, values[missed]);
      }
      if (row.hidden === keep) { row.hidden = !keep; }
      if (keep) { count++; }
    }
    selects.forEach(function (select, f) {
      Array.prototype.forEach.call(select.options, function (option) {
        var n = option.value === "*" ? totals[f] : (tallies[f].get(option.value) || 0);
        var text = option.dataset.label + " (" + n + ")";
        if (option.textContent !== text) { option.textContent = text; }
      });
    });
    shown.textContent = count + " of " + rows.length + " models shown";
  }

  function sortBy(header, button) {
    var column = Array.prototype.indexOf.call(header.parentNode.children, header);
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var numeric = button.dataset.sort === "number";
    var keyed = rows.map(function (row, index) {
      var cell = row.cells[column];
      var value = cell.hasAttribute("data-value") ? cell.getAttribute("data-value")
                                                   : cell.textContent.trim().toLowerCase();
      return [numeric ? Number(value) : value, index, row];
    });
    keyed.sort(function (a, b) {
      if (a[0] < b[0]) { return ascending ? -1 : 1; }
      if (a[0] > b[0]) { return ascending ? 1 : -1; }
      return a[1] - b[1];
    });
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (item) { fragment.appendChild(item[2]); });
    body.appendChild(fragment);
    rows = keyed.map(function (item) { return item[2]; });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  form.hidden = false;
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.addEventListener("reset", function () { setTimeout(apply, 0); });
  Array.prototype.forEach.call(table.querySelectorAll("th button[data-sort]"), function (button) {
    button.addEventListener("click", function () { sortBy(button.parentNode, button); });
  });
  apply();
}());
