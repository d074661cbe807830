/* 研判: the live warnings of the caller's scope as a map layer (/api/v1/warnings.geojson, built
   by PostGIS), each at its cell, village, case or risk point with its explanation. */
(function () {
  'use strict';
  var S = GG.strings();
  var box = document.getElementById('warning-map');
  var handle = GG.map('warnings');
  if (!box || !handle) { return; }
  var map = handle.map;
  var status = document.getElementById('map-status');
  var colours = {hotspot: '#d7191c', repeat_party: '#f28e2b', group: '#8e44ad',
                 bypass: '#2c7bb6', risk_point: '#e6c229'};
  var kind = document.getElementById('f-kind').value;
  var layer = L.geoJSON(null, {
    pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, {radius: 9, weight: 2, color: '#222', fillOpacity: 0.85,
                                     fillColor: colours[f.properties.kind] || '#486581'});
    },
    onEachFeature: function (f, marker) {
      var p = f.properties, div = GG.el('div');
      div.appendChild(GG.el('strong', {}, S.kinds[p.kind] || p.kind));
      div.appendChild(GG.el('div', {}, p.explanation));
      marker.bindPopup(div);
    }
  }).addTo(map);
  var bounds = JSON.parse(box.dataset.bounds || 'null');
  if (bounds) { map.fitBounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]]); }
  status.textContent = S.loading;
  GG.api('GET', '/api/v1/warnings.geojson?limit=1000' + (kind ? '&kind=' + kind : ''))
    .then(function (answer) {
      if (!answer.ok) { status.textContent = S.failed; return; }
      layer.addData(answer.body);
      status.textContent = S.shown.replace('{n}', answer.body.features.length);
      box.dataset.loaded = String(answer.body.features.length);
    });
}());
