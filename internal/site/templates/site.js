// Sorting and filtering only: every page is complete without this script.
// It holds no less-than or ampersand characters, so pages stay well-formed.
(function () {
  'use strict';
  function key(td) {
    var m = td.textContent.match(/-?[0-9]+(\.[0-9]+)?/);
    return m ? parseFloat(m[0]) : null;
  }
  function sortBy(table, th, btn) {
    var body = table.tBodies[0], col = th.cellIndex, text = th.getAttribute('data-sort') === 'text';
    var dir = btn.getAttribute('data-dir') === 'desc' ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col], y = b.cells[col];
      if (!x || !y) { return 0; }
      if (!text) {
        var kx = key(x), ky = key(y);
        if (kx !== null) { return ky !== null ? (kx - ky) * dir : -1; }
        if (ky !== null) { return 1; }
      }
      return x.textContent.localeCompare(y.textContent) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    btn.setAttribute('data-dir', dir === 1 ? 'asc' : 'desc');
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    if (!table.tHead) { return; }
    table.tHead.querySelectorAll('th').forEach(function (th) {
      var btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'sort';
      btn.title = 'sort by this column';
      btn.textContent = '\u21c5';
      btn.addEventListener('click', function () { sortBy(table, th, btn); });
      th.appendChild(btn);
    });
  });
  document.querySelectorAll('table.filterable').forEach(function (table) {
    var states = (table.getAttribute('data-states') || '').split(' ').filter(Boolean);
    if (states.length === 0) { return; }
    var label = document.createElement('label');
    label.className = 'filter';
    label.textContent = 'show items with a cell: ';
    var sel = document.createElement('select');
    ['any state'].concat(states).forEach(function (s) {
      var o = document.createElement('option');
      o.value = s === 'any state' ? '' : s;
      o.textContent = s;
      sel.appendChild(o);
    });
    sel.addEventListener('change', function () {
      var want = sel.value;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
        tr.style.display = !want || tr.querySelector('td.c-' + want) ? '' : 'none';
      });
    });
    label.appendChild(sel);
    var box = table.parentNode;
    box.parentNode.insertBefore(label, box);
  });
}());
