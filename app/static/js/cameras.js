/* 雪亮工程 cameras as a map layer (docs/cameras.md): an overlay in the map's layer control, off
   until chosen, loading /api/v1/cameras.geojson for the visible box when shown or moved.
   Popups are built from text elements (GG.el), never HTML from data. */
(function () {
  'use strict';
  var config = document.getElementById('camera-layer');
  if (!config) { return; }
  var S = GG.strings('camera-strings');
  var handle = GG.map(config.dataset.map);
  if (!handle || !handle.layers) { return; }
  var map = handle.map;
  var colours = {online: '#0b6e4f', offline: '#7b8794', fault: '#b00020'};
  var shown = 0;

  function popup(p) {
    var div = GG.el('div');
    div.appendChild(GG.el('strong', {}, p.name));
    div.appendChild(GG.el('div', {}, p.device_code));
    div.appendChild(GG.el('div', {}, (S.statuses[p.status] || p.status) +
      (p.direction === null ? '' : ' · ' + S.direction + ' ' + p.direction + '°')));
    if (p.video_url && /^https?:\/\//.test(p.video_url)) {
      div.appendChild(GG.el('a', {href: p.video_url, target: '_blank', rel: 'noopener noreferrer'},
        S.video));
    }
    return div;
  }

  var layer = L.geoJSON(null, {
    pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, {radius: 5, color: '#fff', weight: 1.5,
        fillColor: colours[f.properties.status] || '#486581', fillOpacity: 0.95});
    },
    onEachFeature: function (f, marker) {
      var div = popup(f.properties);
      marker.bindPopup(div);
      marker.bindTooltip(GG.el('span', {}, f.properties.name));
    }
  });
  handle.layers.addOverlay(layer, S.layer);
  handle.cameras = {features: 0};  // for tests and debugging

  function load() {
    if (!map.hasLayer(layer)) { return; }
    var ask = ++shown;
    GG.api('GET', '/api/v1/cameras.geojson?bbox=' + GG.bbox(map)).then(function (r) {
      if (ask !== shown || !r.ok) { return; }
      layer.clearLayers();
      layer.addData(r.body);
      handle.cameras.features = r.body.features.length;
    });
  }
  map.on('overlayadd', function (e) { if (e.layer === layer) { load(); } });
  map.on('moveend', load);
}());
