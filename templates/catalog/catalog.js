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

  function apply() {
    var wanted = [];
    selects.forEach(function (select) {
      if (select.value !== "*") { wanted.push(["data-" + select.dataset.facet, select.value]); }
    });
    var query = search.value.trim().toLowerCase();
    var count = 0;
    for (var r = 0; r < rows.length; r++) {
      var row = rows[r];
      var keep = true;
      for (var w = 0; keep && w < wanted.length; w++) {
        keep = row.getAttribute(wanted[w][0]) === wanted[w][1];
      }
      if (keep && query) { keep = row.getAttribute("data-search").indexOf(query) !== -1; }
      if (row.hidden === keep) { row.hidden = !keep; }
      if (keep) { count++; }
    }
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
