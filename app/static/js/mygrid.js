/* 我的网格: the village's grid cells (mine highlighted), open cases and active risk points of
   the visible box, reloaded as the map moves. */
(function () {
  'use strict';
  var S = GG.strings();
  var box = document.getElementById('grid-map');
  var handle = GG.map('grid');
  if (!box || !handle) { return; }
  var map = handle.map;
  var mine = (box.dataset.cells || '').split(',').filter(Boolean);
  var status = document.getElementById('map-status');

  var cells = L.geoJSON(null, {
    style: function (f) {
      var own = mine.indexOf(f.id) >= 0;
      return {color: own ? '#0b6e4f' : '#7b8794', weight: own ? 3 : 1,
              fillOpacity: own ? 0.12 : 0.03, dashArray: own ? null : '4'};
    },
    onEachFeature: function (f, layer) {
      layer.bindTooltip(GG.el('span', {}, f.properties.name + ' · ' + f.properties.village_name));
    }
  }).addTo(map);
  var cases = L.geoJSON(null, {
    pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, GG.approximate({radius: 8, color: '#fff', weight: 2,
        fillColor: GG.caseColour(f.properties), fillOpacity: 0.95}, f.properties));
    },
    onEachFeature: function (f, layer) { layer.bindPopup(casePopup(f.properties)); }
  }).addTo(map);
  var risks = L.geoJSON(null, {
    pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, {radius: 7, color: '#222', weight: 1,
        fillColor: GG.colours.risk[f.properties.level], fillOpacity: 0.9});
    },
    style: function (f) { return {color: GG.colours.risk[f.properties.level], weight: 2}; },
    onEachFeature: function (f, layer) { layer.bindPopup(riskPopup(f.properties)); }
  });
  if (handle.layers) {
    handle.layers.addOverlay(cells, S.cells);
    handle.layers.addOverlay(cases, S.cases);
  }
  if (box.dataset.risks === 'true') {
    risks.addTo(map);
    if (handle.layers) { handle.layers.addOverlay(risks, S.risks); }
  }

  function casePopup(p) {
    var div = GG.el('div');
    div.appendChild(GG.el('strong', {}, p.number));
    div.appendChild(GG.el('div', {}, p.category));
    var a = GG.el('a', {href: '/cases/' + encodeURIComponent(p.number)}, S.open);
    div.appendChild(a);
    return div;
  }
  function riskPopup(p) {
    var div = GG.el('div');
    div.appendChild(GG.el('strong', {}, p.code));
    div.appendChild(GG.el('div', {}, (p.name || p.category)));
    div.appendChild(GG.el('a', {href: '/risk-points/' + encodeURIComponent(p.code)}, S.open));
    return div;
  }

  var fitted = false;
  function load() {
    var bbox = GG.bbox(map);
    status.textContent = S.loading;
    var jobs = [
      GG.api('GET', '/api/v1/grid-cells?limit=500&bbox=' + bbox),
      GG.api('GET', '/api/v1/cases.geojson?open=true&limit=2000&bbox=' + bbox),
      box.dataset.risks === 'true'
        ? GG.api('GET', '/api/v1/risk-points.geojson?limit=2000&bbox=' + bbox)
        : Promise.resolve({ok: true, body: {type: 'FeatureCollection', features: []}})
    ];
    Promise.all(jobs).then(function (r) {
      if (!r[0].ok || !r[1].ok) { status.textContent = S.failed; return; }
      cells.clearLayers(); cells.addData(r[0].body);
      cases.clearLayers(); cases.addData(r[1].body);
      risks.clearLayers(); if (r[2].ok) { risks.addData(r[2].body); }
      status.textContent = S.loaded.replace('{c}', r[1].body.features.length)
        .replace('{r}', r[2].ok ? r[2].body.features.length : 0) +
        (r[1].body.truncated ? ' · ' + S.truncated : '');
      if (!fitted && mine.length) {
        var own = L.featureGroup();
        cells.eachLayer(function (l) { if (mine.indexOf(l.feature.id) >= 0) { own.addLayer(l); } });
        if (own.getLayers().length) { map.fitBounds(own.getBounds(), {padding: [20, 20], animate: false}); }
        fitted = true;
      }
      box.dataset.ready = 'true';
    }, function () { status.textContent = S.failed; });
  }
  map.on('moveend', GG.debounce(load, 250));
  load();
})();
