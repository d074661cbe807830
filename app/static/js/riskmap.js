/* 风险地图: every layer loads only the visible box, and cases are aggregated when zoomed out:
   town counts below zoom 12, village counts to 13, single cases (clustered) from 14 — or grid
   cell counts when the box still holds too many. Half a million cases never reach the page. */
(function () {
  'use strict';
  var S = GG.strings();
  var box = document.getElementById('risk-map');
  var handle = GG.map('risk');
  if (!box || !handle) { return; }
  var map = handle.map;
  var status = document.getElementById('map-status');
  var withRisks = box.dataset.risks === 'true';
  var POINT_LIMIT = 3000;

  function filters() {
    var q = [];
    var kind = document.getElementById('f-kind').value;
    var from = document.getElementById('f-from').value;
    var to = document.getElementById('f-to').value;
    if (kind) { q.push('kind=' + kind); }
    if (from) { q.push('reported_from=' + from); }
    if (to) { q.push('reported_to=' + to); }
    return q.length ? '&' + q.join('&') : '';
  }

  /* Layers: boundaries, risk cells, risk points, cases (clusters or counts), heat map. */
  var boundaries = L.geoJSON(null, {
    style: {color: '#334e68', weight: 1.5, fill: false},
    interactive: false
  }).addTo(map);
  var cells = L.geoJSON(null, {
    style: function (f) {
      return {color: '#9aa5b1', weight: 0.5, fillColor: GG.scoreColour(f.properties.score),
              fillOpacity: f.properties.score > 0 ? 0.55 : 0.08};
    },
    onEachFeature: function (f, layer) {
      var p = f.properties, div = GG.el('div');
      div.appendChild(GG.el('strong', {}, p.name + ' · ' + p.village_name));
      div.appendChild(GG.el('div', {}, S.score + '：' + p.score));
      layer.bindPopup(div);
    }
  });
  /* Risk points come as vector tiles (/api/v1/tiles/risk_points, ST_AsMVT): every zoom, no
     limit, each tile fetched once per data version. The URL carries a signed tile key and the
     layer's data version from /api/v1/tiles/access, so a cached tile costs the server no database
     work and the browser keeps it until the version changes. */
  var tileState = handle.tiles = {features: 0, tiles: 0, versions: null};
  var points = L.vectorGrid.protobuf('', {
    rendererFactory: L.svg.tile,
    interactive: true,
    maxNativeZoom: 22,
    vectorTileLayerStyles: {
      risk_points: function (p) {
        tileState.features += 1;  // drawn features, for tests and debugging
        var colour = GG.colours.risk[p.level] || '#486581';
        return {radius: 7, weight: p.overdue ? 3 : 1, color: p.overdue ? '#b00020' : '#222',
                fill: true, fillColor: colour, fillOpacity: 0.9, opacity: 1};
      }
    }
  });
  points.on('tileload', function () { tileState.tiles += 1; });
  points.on('click', function (e) {
    var p = e.layer.properties, div = GG.el('div');
    div.appendChild(GG.el('strong', {}, p.code));
    div.appendChild(GG.el('div', {}, p.category + ' · ' + (S.levels[p.level] || p.level) +
      (p.overdue ? ' · ' + S.overdue : '')));
    div.appendChild(GG.el('a', {href: '/risk-points/' + encodeURIComponent(p.code)}, S.detail));
    L.popup().setLatLng(e.latlng).setContent(div).openOn(map);
  });

  /* The tile key and versions: asked for at once, then every minute (new data → new URLs). */
  var access = null;
  function refreshAccess() {
    return GG.api('GET', '/api/v1/tiles/access').then(function (r) {
      if (!r.ok || !r.body.urls.risk_points) { return; }
      var changed = !access || access.urls.risk_points !== r.body.urls.risk_points;
      var versionChanged = !access || access.versions.risk_points !== r.body.versions.risk_points;
      // Keep a key (and so the browser's cached tiles) until it is old or the data changed.
      if (changed && (versionChanged || Date.now() - access.at > access.life / 2)) {
        access = {urls: r.body.urls, versions: r.body.versions, at: Date.now(),
                  life: r.body.expires_in * 1000};
        tileState.versions = access.versions;
        tileState.features = 0; tileState.tiles = 0;
        if (!tileState.started) {  // the layer joins the map once it has a URL
          tileState.started = true;
          points.setUrl(access.urls.risk_points, true);
          points.addTo(map);
          updateLegends();
        } else {
          points.setUrl(access.urls.risk_points);
        }
      }
    }, function () { /* offline for a moment: the next round tries again */ });
  }

  /* Leaflet.heat 0.2 keeps drawing after it leaves the map: new points for a removed layer, or a
     frame it asked for before removal, reach `this._map` (null by then) and throw. This one draws
     only while on the map, cancels its pending frame when removed, and redraws when added. */
  var heatProto = L.HeatLayer.prototype;
  var SafeHeatLayer = L.HeatLayer.extend({
    redraw: function () {
      if (this._map) { heatProto.redraw.call(this); }
      return this;
    },
    _redraw: function () {
      this._frame = null;
      if (this._map) { heatProto._redraw.call(this); }
    },
    onRemove: function (m) {
      if (this._frame) { L.Util.cancelAnimFrame(this._frame); this._frame = null; }
      heatProto.onRemove.call(this, m);
    }
  });

  /* Clusters in one neutral colour (the legend's 多个事件), so they are never read as warnings. */
  var clusters = L.markerClusterGroup({
    showCoverageOnHover: false, maxClusterRadius: 50, chunkedLoading: true,
    iconCreateFunction: function (cluster) {
      var n = cluster.getChildCount();
      return L.divIcon({className: '', iconSize: [34, 34],
        html: '<div class="case-cluster">' + n + '</div>'});
    }
  });
  var counts = L.layerGroup();
  var cases = L.layerGroup([clusters, counts]).addTo(map);
  var heat = new SafeHeatLayer([], {radius: 22, blur: 18, maxZoom: 15});

  if (withRisks) { cells.addTo(map); }
  if (handle.layers) {
    handle.layers.addOverlay(boundaries, S.boundaries);
    if (withRisks) {
      handle.layers.addOverlay(cells, S.cells);
      handle.layers.addOverlay(points, S.points);
    }
    handle.layers.addOverlay(cases, S.cases);
    handle.layers.addOverlay(heat, S.heat);
  }

  function casePopup(p) {
    var div = GG.el('div');
    div.appendChild(GG.el('strong', {}, p.number));
    div.appendChild(GG.el('div', {}, (S.kinds[p.kind] || p.kind) + ' · ' + p.category));
    div.appendChild(GG.el('div', {}, (S.states[p.state] || p.state) + ' · ' + p.reported_on));
    div.appendChild(GG.el('a', {href: '/cases/' + encodeURIComponent(p.number)}, S.detail));
    return div;
  }

  function countMarker(f) {
    var p = f.properties;
    var size = Math.min(64, 28 + Math.round(Math.log(p.cases + 1) * 6));
    var cls = 'agg-marker' + (p.red ? ' has-red' : p.yellow ? ' has-yellow' : '');
    var icon = L.divIcon({className: '', iconSize: [size, size],
      html: '<div class="' + cls + '" style="width:' + size + 'px;height:' + size + 'px">' +
            p.cases + '</div>'});
    var c = f.geometry.coordinates;
    var marker = L.marker([c[1], c[0]], {icon: icon, keyboard: true, title: p.name + ' ' + p.cases});
    var div = GG.el('div');
    div.appendChild(GG.el('strong', {}, p.name));
    div.appendChild(GG.el('div', {}, S.total + ' ' + p.cases + ' · ' + S.open + ' ' + p.open +
      ' · ' + S.yellow + ' ' + p.yellow + ' · ' + S.red + ' ' + p.red));
    var zoom = GG.el('button', {type: 'button', 'class': 'secondary'}, S.zoomIn);
    zoom.addEventListener('click', function () { drill(f.bbox, p.level); });
    div.appendChild(zoom);
    if (p.level !== 'grid_cell') {
      div.appendChild(document.createTextNode(' '));
      div.appendChild(GG.el('a', {href: '/workbench?region=' + p.code}, S.workbench));
    }
    marker.bindPopup(div);
    marker.on('keypress', function (e) { if (e.originalEvent.key === 'Enter') { marker.openPopup(); } });
    return marker;
  }

  /* 放大查看 goes one level down: a town to its villages' counts (zoom 12), a village to its
     single cases (14), a grid cell closer still — even when the region's box would fit at a
     zoom that still shows the same level. */
  var DRILL_ZOOM = {town: 12, village: 14};
  function drill(b, level) {
    map.closePopup();
    var bounds = L.latLngBounds([[b[1], b[0]], [b[3], b[2]]]);
    var fit = map.getBoundsZoom(bounds, false, L.point(20, 20));
    var zoom = Math.max(fit, DRILL_ZOOM[level] || map.getZoom() + 1);
    map.setView(bounds.getCenter(), Math.min(zoom, map.getMaxZoom()));
  }

  /* Each layer loads on its own, so a slow layer never holds up the others; an answer for a view
     the user has already left is dropped. Whatever happens, the status leaves 正在加载: a failed
     request, or an error while drawing the answer (which is still thrown, to be seen), says
     加载失败. */
  var latest = {};
  function fetchLayer(name, url, apply) {
    var mine = latest[name] = (latest[name] || 0) + 1;
    return GG.api('GET', url).then(function (r) {
      if (mine !== latest[name]) { return; }
      try {
        apply(r);
      } catch (err) {
        status.textContent = S.failed;
        throw err;
      } finally {
        updateLegends();
      }
    }, function () { if (mine === latest[name]) { status.textContent = S.failed; } });
  }

  /* Legends show exactly what is drawn: grid risk while cells are on the map (zoom 13 and
     closer), risk levels while the risk points layer is on, the case colours while single cases
     are drawn, the count bubbles while counts are. */
  var legendNodes = {};
  ['score', 'risk', 'cases', 'counts'].forEach(function (key) {
    legendNodes[key] = map.getContainer().querySelector('.map-legend[data-legend="' + key + '"]');
  });
  function updateLegends() {
    var mode = handle.loaded && handle.loaded.mode;
    var drawn = {
      score: map.hasLayer(cells) && cells.getLayers().length > 0,
      risk: withRisks && map.hasLayer(points),
      cases: map.hasLayer(cases) && mode === 'points' && clusters.getLayers().length > 0,
      counts: map.hasLayer(cases) && mode === 'counts' && counts.getLayers().length > 0
    };
    Object.keys(legendNodes).forEach(function (key) {
      if (legendNodes[key]) { legendNodes[key].hidden = !drawn[key]; }
    });
    handle.legends = drawn;  // for tests and debugging
  }
  updateLegends();
  map.on('overlayadd overlayremove zoomend', updateLegends);

  function load() {
    var zoom = map.getZoom(), bbox = GG.bbox(map), f = filters();
    status.textContent = S.loading;
    fetchLayer('boundaries', '/api/v1/regions?level=' + (zoom < 12 ? 'town' : 'village'),
      function (r) { if (r.ok) { boundaries.clearLayers(); boundaries.addData(r.body); } });
    if (withRisks) {
      if (zoom >= 13) {
        fetchLayer('cells', '/api/v1/grid-cells/risk?limit=2000&bbox=' + bbox, function (r) {
          cells.clearLayers(); if (r.ok) { cells.addData(r.body); }
        });
      } else { latest.cells = (latest.cells || 0) + 1; cells.clearLayers(); }
    }
    updateLegends();
    if (zoom < 14) {
      var level = zoom < 12 ? 'town' : 'village';
      fetchLayer('cases', '/api/v1/cases/by-region.geojson?level=' + level + '&bbox=' + bbox + f,
        function (r) {
          if (!r.ok) { status.textContent = S.failed; return; }
          showCounts(r.body, zoom < 12 ? S.aggTown : S.aggVillage);
        });
      return;
    }
    fetchLayer('cases', '/api/v1/cases.geojson?limit=' + POINT_LIMIT + '&bbox=' + bbox + f,
      function (r) {
        if (!r.ok) { status.textContent = S.failed; return; }
        if (!r.body.truncated) { showPoints(r.body); return; }
        // Too many single cases in view: count them by grid cell instead.
        fetchLayer('cases', '/api/v1/cases/by-region.geojson?level=grid_cell&bbox=' + bbox + f,
          function (agg) {
            if (!agg.ok) { status.textContent = S.failed; return; }
            showCounts(agg.body, S.aggCell);
            status.textContent += ' · ' + S.truncated;
          });
      });
  }

  function showCounts(fc, how) {
    handle.loaded = {mode: 'counts', level: fc.level, cases: fc};  // for tests and debugging
    clusters.clearLayers(); counts.clearLayers();
    fc.features.forEach(function (f) { counts.addLayer(countMarker(f)); });
    heat.setLatLngs(fc.features.map(function (f) {
      var c = f.geometry.coordinates;
      return [c[1], c[0], Math.min(1, f.properties.cases / 50)];
    }));
    status.textContent = S.shown.replace('{n}', fc.total).replace('{how}', how);
  }

  function showPoints(fc) {
    handle.loaded = {mode: 'points', cases: fc};
    clusters.clearLayers(); counts.clearLayers();
    var markers = fc.features.map(function (f) {
      var c = f.geometry.coordinates;
      var m = L.circleMarker([c[1], c[0]], GG.approximate({radius: 7, color: '#fff', weight: 2,
        fillColor: GG.caseColour(f.properties), fillOpacity: 0.95}, f.properties));
      m.bindPopup(casePopup(f.properties));
      return m;
    });
    clusters.addLayers(markers);
    heat.setLatLngs(fc.features.map(function (f) {
      return [f.geometry.coordinates[1], f.geometry.coordinates[0], 0.6];
    }));
    status.textContent = S.shown.replace('{n}', fc.numberReturned).replace('{how}', S.single);
  }

  document.getElementById('f-region').addEventListener('change', function (e) {
    if (!e.target.value) { fitHome(); return; }
    GG.api('GET', '/api/v1/regions/' + e.target.value).then(function (r) {
      if (r.ok) { map.fitBounds(L.geoJSON(r.body).getBounds(), {padding: [10, 10]}); }
    });
  });
  document.getElementById('map-filters').addEventListener('submit', function (e) {
    e.preventDefault();
    var params = new URLSearchParams(new FormData(e.target));
    history.replaceState(null, '', '?' + params.toString());
    load();
  });

  function fitHome() {
    var b = JSON.parse(box.dataset.bounds);
    // No animation: a view asked for while Leaflet animates a zoom would be dropped.
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {animate: false});
  }
  map.on('moveend', GG.debounce(load, 250));
  fitHome();
  load();
  if (withRisks) {
    refreshAccess();
    window.setInterval(refreshAccess, 60000);
  }
})();
