/* The case page: its small map (the point and its grid cell), the audited 查看 of parties, and
   the resolve form showing only the fields of the chosen outcome. */
(function () {
  'use strict';
  var S = GG.strings();

  var box = document.getElementById('case-map');
  var handle = GG.map('case');
  if (box && handle) {
    var lat = parseFloat(box.dataset.lat), lon = parseFloat(box.dataset.lon);
    var d = 0.01;
    GG.api('GET', '/api/v1/grid-cells?bbox=' + [lon - d, lat - d, lon + d, lat + d].join(',') +
      '&limit=50').then(function (r) {
      if (!r.ok) { return; }
      var cells = r.body.features.filter(function (f) { return f.id === box.dataset.cell; });
      L.geoJSON({type: 'FeatureCollection', features: cells},
        {style: {color: '#0b6e4f', weight: 2, fillOpacity: 0.08}}).addTo(handle.map);
    });
    // An imported case placed at its village's representative point: hollow and dashed.
    var approximate = box.dataset.approximate === 'true';
    L.circleMarker([lat, lon], approximate
      ? {radius: 9, color: '#d7191c', weight: 2, dashArray: '3', fillOpacity: 0}
      : {radius: 9, color: '#fff', weight: 2, fillColor: '#d7191c', fillOpacity: 1})
      .bindTooltip(GG.el('span', {}, S.case || '')).addTo(handle.map);
  }

  document.querySelectorAll('button.reveal').forEach(function (button) {
    button.addEventListener('click', function () {
      button.disabled = true;
      var purpose = document.getElementById('reveal-purpose');
      var reason = document.getElementById('reveal-reason');
      var body = {purpose: purpose ? purpose.value : 'mediation'};
      if (reason && reason.value.trim()) { body.reason = reason.value.trim(); }
      GG.api('POST', button.dataset.url, body).then(function (r) {
        var row = button.closest('.party');
        if (!r.ok) {
          button.disabled = false;
          row.appendChild(GG.el('span', {'class': 'error', role: 'alert'},
            S.failed + (r.body && r.body.message ? '：' + r.body.message : '')));
          return;
        }
        ['name', 'id_number', 'phone', 'address'].forEach(function (field) {
          var span = row.querySelector('[data-field="' + field + '"]');
          if (span && r.body[field]) { span.textContent = r.body[field]; }
        });
        button.replaceWith(GG.el('span', {'class': 'small muted', role: 'status'}, S.revealed));
      }, function () { button.disabled = false; });
    });
  });

  // The free text's clear originals (ID and phone numbers typed into it), audited like a party's.
  document.querySelectorAll('button.reveal-text').forEach(function (button) {
    button.addEventListener('click', function () {
      button.disabled = true;
      var purpose = document.getElementById('reveal-purpose');
      var reason = document.getElementById('reveal-reason');
      var body = {purpose: purpose ? purpose.value : 'mediation'};
      if (reason && reason.value.trim()) { body.reason = reason.value.trim(); }
      GG.api('POST', button.dataset.url, body).then(function (r) {
        if (!r.ok) {
          button.disabled = false;
          button.after(GG.el('span', {'class': 'error', role: 'alert'},
            S.failed + (r.body && r.body.message ? '：' + r.body.message : '')));
          return;
        }
        var list = document.getElementById('revealed-text');
        r.body.items.forEach(function (item) {
          list.appendChild(GG.el('dt', {}, (S.fields && S.fields[item.field]) || item.field));
          list.appendChild(GG.el('dd', {}, item.text));
        });
        list.hidden = false;
        button.replaceWith(GG.el('span', {'class': 'small muted', role: 'status'}, S.revealed));
      }, function () { button.disabled = false; });
    });
  });

  document.querySelectorAll('select.outcome-select').forEach(function (select) {
    var form = select.closest('form');
    function sync() {
      form.querySelectorAll('.when-outcome').forEach(function (fs) {
        var on = fs.dataset.outcome === select.value;
        fs.hidden = !on;
        fs.querySelectorAll('input, textarea').forEach(function (input) { input.disabled = !on; });
      });
    }
    select.addEventListener('change', sync);
    sync();
  });
})();
