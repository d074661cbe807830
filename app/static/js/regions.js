/* The admin's map: town and village boundaries (abolished villages dashed) and the grid cells
   of the visible box when zoomed in. */
(function () {
  'use strict';
  var S = GG.strings();
  var handle = GG.map('regions');
  if (!handle) { return; }
  var map = handle.map, status = document.getElementById('map-status');
  var towns = L.geoJSON(null, {style: {color: '#334e68', weight: 2, fill: false}}).addTo(map);
  var villages = L.geoJSON(null, {
    style: function (f) {
      return {color: f.properties.abolished ? '#b42318' : '#52606d', weight: 1,
              dashArray: f.properties.abolished ? '4' : null, fillOpacity: 0.03};
    },
    onEachFeature: function (f, layer) {
      layer.bindTooltip(GG.el('span', {}, f.properties.name + ' ' + f.properties.code +
        (f.properties.abolished ? ' · ' + S.abolished : '')));
    }
  }).addTo(map);
  var cells = L.geoJSON(null, {
    style: {color: '#0b6e4f', weight: 1, fillOpacity: 0.05},
    onEachFeature: function (f, layer) {
      layer.bindTooltip(GG.el('span', {}, f.properties.name + ' ' + f.properties.code));
    }
  }).addTo(map);
  if (handle.layers) {
    handle.layers.addOverlay(towns, S.towns);
    handle.layers.addOverlay(villages, S.villages);
    handle.layers.addOverlay(cells, S.cells);
  }
  GG.api('GET', '/api/v1/regions?level=town').then(function (r) {
    if (!r.ok) { return; }
    towns.addData(r.body);
    if (towns.getLayers().length) { map.fitBounds(towns.getBounds()); }
  });
  GG.api('GET', '/api/v1/regions?level=village&include_abolished=true').then(function (r) {
    if (r.ok) { villages.addData(r.body); }
  });
  function loadCells() {
    if (map.getZoom() < 13) { cells.clearLayers(); status.textContent = ''; return; }
    GG.api('GET', '/api/v1/grid-cells?limit=2000&bbox=' + GG.bbox(map)).then(function (r) {
      if (!r.ok) { return; }
      cells.clearLayers(); cells.addData(r.body);
      status.textContent = S.cells + '：' + r.body.numberReturned;
    });
  }
  map.on('moveend', GG.debounce(loadCells, 300));
})();
