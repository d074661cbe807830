/* 走访覆盖: the grid cells of the visible box coloured by days since their last visit (the
   page's coverage table, #coverage-cells: code → [days or null, visits]); cells outside the
   caller's scope stay uncoloured. */
(function () {
  'use strict';
  var S = GG.strings();
  var CELLS = GG.strings('coverage-cells');
  var handle = GG.map('coverage');
  var box = document.getElementById('coverage-map');
  if (!handle || !box) { return; }
  var map = handle.map;
  var BANDS = {week: '#1a9850', month: '#fee08b', older: '#f46d43', never: '#9aa5b1'};

  function band(days) {
    if (days === null || days === undefined) { return 'never'; }
    return days <= 7 ? 'week' : days <= 30 ? 'month' : 'older';
  }
  document.querySelectorAll('#coverage-legend .swatch').forEach(function (node) {
    node.style.background = BANDS[node.dataset.band];
  });

  var layer = L.geoJSON(null, {
    style: function (f) {
      var row = CELLS[f.id];
      if (!row) { return {color: '#7b8794', weight: 1, fillOpacity: 0, dashArray: '4'}; }
      return {color: '#333', weight: 1, fillColor: BANDS[band(row[0])], fillOpacity: 0.6};
    },
    onEachFeature: function (f, shape) {
      var row = CELLS[f.id];
      if (!row) { return; }
      var text = row[0] === null ? GG.fill(S.never, {name: f.properties.name}) :
        GG.fill(S.days, {name: f.properties.name, days: row[0], visits: row[1]});
      shape.bindTooltip(GG.el('span', {}, text));
    }
  }).addTo(map);

  function load() {
    GG.api('GET', '/api/v1/grid-cells?limit=500&bbox=' + GG.bbox(map)).then(function (r) {
      if (r.ok) { layer.clearLayers(); layer.addData(r.body); }
      box.dataset.ready = 'true';
    }, function () { box.dataset.ready = 'true'; });
  }
  map.on('moveend', GG.debounce(load, 300));
  load();
})();
