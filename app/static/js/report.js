/* 上报: tap the map (or use the device's location) to place the report, see at once which grid
   cell and village it falls in, fill in the form, see likely duplicates nearby, and submit
   through the outbox (outbox.js), which keeps the report on the phone until it is sent. */
(function () {
  'use strict';
  var S = GG.strings();
  var CATEGORIES = GG.strings('report-categories');
  var handle = GG.map('report');
  var form = document.getElementById('report-form');
  if (!handle || !form) { return; }
  var map = handle.map;
  var placed = document.getElementById('placed');
  var kind = document.getElementById('kind');
  var category = document.getElementById('category');
  var nearby = document.getElementById('nearby');
  var formError = document.getElementById('form-error');
  var box = document.getElementById('report-map');
  var mine = (box.dataset.cells || '').split(',').filter(Boolean);
  var marker = null, point = null;

  /* The worker's grid cells, so they can see where they may report. */
  var cells = L.geoJSON(null, {
    style: function (f) {
      var own = mine.indexOf(f.id) >= 0;
      return {color: own ? '#0b6e4f' : '#9aa5b1', weight: own ? 3 : 1, fillOpacity: own ? 0.1 : 0.02};
    },
    onEachFeature: function (f, layer) { layer.bindTooltip(GG.el('span', {}, f.properties.name)); },
    interactive: false
  }).addTo(map);
  var fitted = false;
  function loadCells() {
    GG.api('GET', '/api/v1/grid-cells?limit=500&bbox=' + GG.bbox(map)).then(function (r) {
      if (!r.ok) { return; }
      cells.clearLayers(); cells.addData(r.body);
      if (!fitted && mine.length) {
        // Open on the worker's own cells, whatever the screen size.
        fitted = true;
        var own = L.featureGroup();
        cells.eachLayer(function (l) { if (mine.indexOf(l.feature.id) >= 0) { own.addLayer(l); } });
        // Not animated: the page is ready only once the map has reached its view (a zoom
        // still running when the user or a test moves the map would end at this one).
        if (own.getLayers().length) { map.fitBounds(own.getBounds(), {padding: [8, 8], animate: false}); }
      }
      box.dataset.ready = 'true';  // the page is usable: tests and screenshots wait for this
    }, function () { box.dataset.ready = 'true'; });
  }
  map.on('moveend', GG.debounce(loadCells, 300));
  loadCells();

  function fillCategories() {
    category.textContent = '';
    (CATEGORIES[kind.value] || []).forEach(function (pair) {
      var option = GG.el('option', {value: pair[0]}, pair[1]);
      category.appendChild(option);
    });
    document.getElementById('complexity-label').hidden = kind.value !== 'incident';
    checkNearby();
  }
  kind.addEventListener('change', fillCategories);
  category.addEventListener('change', checkNearby);
  fillCategories();

  function show(text, state) {
    placed.textContent = text;
    placed.className = 'placed' + (state ? ' ' + state : '');
  }

  var locating = 0;  // the number of the latest locate request
  function setPoint(lat, lon) {
    point = {lat: Math.round(lat * 1e6) / 1e6, lon: Math.round(lon * 1e6) / 1e6};
    document.getElementById('lat').value = point.lat;
    document.getElementById('lon').value = point.lon;
    if (marker) { marker.setLatLng([lat, lon]); } else {
      marker = L.marker([lat, lon], {keyboard: true, title: S.none}).addTo(map);
    }
    show(S.locating);
    // Only the latest point's answer is shown: an earlier request answering late (a reopened
    // report's old point, a quick second tap) must not overwrite it.
    var asked = ++locating;
    GG.api('GET', '/api/v1/locate?lon=' + point.lon + '&lat=' + point.lat).then(function (r) {
      if (asked !== locating) { return; }
      if (r.ok) {
        var b = r.body;
        show(S.placed.replace('{cell}', b.grid_cell.name + '（' + b.grid_cell.code + '）')
          .replace('{village}', b.village.name).replace('{town}', b.town ? b.town.name : ''), 'ok');
      } else {
        show((r.body && r.body.message) || ('HTTP ' + r.status), 'bad');
      }
    }, function () { if (asked === locating) { show(S.offline); } });
    checkNearby();
  }

  map.on('click', function (e) { setPoint(e.latlng.lat, e.latlng.lng); });
  // Without a pointer: pan the map with the arrow keys, then place the point at its centre.
  document.getElementById('place-centre').addEventListener('click', function () {
    var c = map.getCenter();
    setPoint(c.lat, c.lng);
  });

  document.getElementById('locate-me').addEventListener('click', function () {
    if (!navigator.geolocation) { show(S.geoFailed, 'bad'); return; }
    show(S.geoBusy);
    // Browsers report WGS84, which is what the API expects by default.
    navigator.geolocation.getCurrentPosition(function (pos) {
      map.setView([pos.coords.latitude, pos.coords.longitude], Math.max(map.getZoom(), 16));
      setPoint(pos.coords.latitude, pos.coords.longitude);
    }, function () { show(S.geoFailed, 'bad'); }, {enableHighAccuracy: true, timeout: 15000});
  });

  /* Likely duplicates for the current point and category. Every call numbers its request; an
     answer that is not the latest (an earlier category or point, answered late) is dropped, so
     it can never replace or hide the current one. */
  var nearbyAsked = 0;
  function checkNearby() {
    var mine = ++nearbyAsked;
    if (!point || !category.value) { nearby.hidden = true; return; }
    var url = '/api/v1/cases/nearby?lon=' + point.lon + '&lat=' + point.lat +
      '&category=' + encodeURIComponent(category.value);
    GG.api('GET', url).then(function (r) {
      if (mine !== nearbyAsked) { return; }
      nearby.textContent = '';
      if (!r.ok || !r.body.length) { nearby.hidden = true; return; }
      nearby.appendChild(GG.el('p', {}, S.nearby));
      var list = GG.el('ul');
      r.body.forEach(function (c) {
        var li = GG.el('li');
        li.appendChild(GG.el('a', {href: '/cases/' + encodeURIComponent(c.number), target: '_blank'},
          c.number + ' ' + c.title));
        list.appendChild(li);
      });
      nearby.appendChild(list);
      nearby.hidden = false;
    }, function () { if (mine === nearbyAsked) { nearby.hidden = true; } });
  }

  function addParty(values) {
    var node = document.getElementById('party-template').content.firstElementChild.cloneNode(true);
    node.querySelector('.remove-party').addEventListener('click', function () { node.remove(); });
    document.getElementById('parties').appendChild(node);
    Object.keys(values || {}).forEach(function (name) {
      var input = node.querySelector('[data-name="' + name + '"]');
      if (input) { input.value = values[name]; }
    });
    return node;
  }
  document.getElementById('add-party').addEventListener('click', function () {
    addParty().querySelector('[data-name="name"]').focus();
  });

  function parties() {
    var out = [];
    document.querySelectorAll('#parties .party-form').forEach(function (node) {
      var party = {};
      node.querySelectorAll('[data-name]').forEach(function (input) {
        var v = input.value.trim();
        if (v) { party[input.dataset.name] = input.dataset.name === 'id_number' ? v.toUpperCase() : v; }
      });
      out.push(party);
    });
    return out;
  }

  function readPhotos() {
    var files = Array.prototype.slice.call(document.getElementById('photos').files || [], 0, 10);
    return Promise.all(files.map(function (f) {
      // Stored as Blobs in IndexedDB, so they survive a reload while offline.
      return Promise.resolve({name: f.name, type: f.type, blob: f.slice(0, f.size, f.type)});
    }));
  }

  /* A field of the form by the API's name: a party's ("parties.0.id_number") in its row. */
  var PARTY = /^parties\.(\d+)\.(\w+)$/;
  function controlOf(name) {
    var party = PARTY.exec(name);
    if (party) {
      var row = document.querySelectorAll('#parties .party-form')[Number(party[1])];
      return row ? row.querySelector('[data-name="' + party[2] + '"]') : null;
    }
    if (name === 'location' || name === 'lon' || name === 'lat') { return null; }
    return form.querySelector('[name="' + name + '"]');
  }
  function labelOf(name) {
    var M = GG.messages(), labels = M.labels || {};
    var party = PARTY.exec(name);
    if (party) {
      return GG.fill(M.party, {n: Number(party[1]) + 1, field: labels[party[2]] || party[2]});
    }
    return labels[name] || null;
  }
  function showErrors(errors, message) {
    GG.showErrors(form, errors, {control: controlOf, label: labelOf, summary: formError,
                                 message: message});
  }
  window.ReportForm = {labelOf: labelOf};

  /* What the page can tell before sending (the API says the rest): by field, as the API, with
     the API's own rules (checks.js): a report sure to be refused is never queued. */
  function missing(body) {
    var required = [GG.messages().required];
    var errors = {};
    if (!point) { errors.location = [S.needPoint]; }
    ['category', 'title', 'description'].forEach(function (name) {
      if (!body[name]) { errors[name] = required; }
    });
    if (body.occurred_at) {
      var when = Checks.occurredAt(new Date(body.occurred_at));
      if (when) { errors.occurred_at = [when]; }
    }
    body.parties.forEach(function (p, i) {
      var wrong = {};
      if (!p.name) { wrong.name = required; }
      var id = p.id_number && Checks.idNumber(p.id_number);
      if (id) { wrong.id_number = [id]; }
      var phone = p.phone && Checks.phone(p.phone);
      if (phone) { wrong.phone = [phone]; }
      if (Object.keys(wrong).length) { (errors.parties = errors.parties || {})[i] = wrong; }
    });
    return Object.keys(errors).length ? errors : null;
  }

  /* An ISO instant as the datetime-local input shows it (the device's time). */
  function localInput(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ''; }
    var pad = function (n) { return ('0' + n).slice(-2); };
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' +
      pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  /* A report the outbox could not deliver (a definitive 4xx), opened again: its fields back in
     the form, each message beside its field; sending it again replaces the stored one. */
  var reopened = null, reopenedPhotos = [];
  function reopen(record) {
    var b = record.body || {};
    form.reset();
    document.getElementById('parties').textContent = '';
    kind.value = b.kind || kind.value;
    fillCategories();
    ['category', 'source', 'complexity', 'camera_code'].forEach(function (name) {
      if (b[name] && form.elements[name]) { form.elements[name].value = b[name]; }
    });
    form.elements.title.value = b.title || '';
    form.elements.description.value = b.description || '';
    form.elements.occurred_at.value = b.occurred_at ? localInput(b.occurred_at) : '';
    (b.parties || []).forEach(function (p) { addParty(p); });
    if (typeof b.lat === 'number' && typeof b.lon === 'number') {
      map.setView([b.lat, b.lon], Math.max(map.getZoom(), 16));
      setPoint(b.lat, b.lon);
    }
    reopened = record.key;
    reopenedPhotos = record.photos || [];  // sent again with it unless others are chosen
    showErrors(record.errors || {}, record.message || record.error);
    form.scrollIntoView();
  }
  if (window.Outbox && window.Outbox.onOpen) { window.Outbox.onOpen(reopen, S.reopen); }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    GG.clearErrors(form, formError);
    var data = new FormData(form);
    var body = {
      kind: data.get('kind'), category: data.get('category'), source: data.get('source'),
      title: (data.get('title') || '').trim(), description: (data.get('description') || '').trim(),
      lon: point ? point.lon : null, lat: point ? point.lat : null, parties: parties()
    };
    if (body.kind === 'incident') { body.complexity = data.get('complexity'); }
    var camera = (data.get('camera_code') || '').trim();  // 视频监控: the camera that saw it
    if (camera && body.source === 'video') { body.camera_code = camera; }
    var occurred = data.get('occurred_at');
    if (occurred) {
      var at = new Date(occurred);
      body.occurred_at = isNaN(at.getTime()) ? occurred : at.toISOString();
    }
    var refused = missing(body);
    if (refused) { showErrors(refused); return; }
    var button = document.getElementById('submit-report');
    button.disabled = true;
    var replaced = reopened;
    readPhotos().then(function (photos) {
      return window.Outbox.add(body, photos.length ? photos : (replaced ? reopenedPhotos : []));
    }).then(function (record) {
      button.disabled = false;
      if (record && record.status === 'failed') {
        // What was typed stays; the stored copy of it is the one just refused.
        if (replaced) { window.Outbox.forget(replaced); }
        reopened = record.key;
        reopenedPhotos = record.photos || [];
        showErrors(record.errors || {}, record.message || record.error);
        return;
      }
      if (replaced) { window.Outbox.forget(replaced); }
      reopened = null;
      reopenedPhotos = [];
      if (record && (record.status === 'sent' || record.status === 'photos') && record.number) {
        show(S.sentNow + ' ' + record.number, 'ok');
      } else {
        show(S.queued);
      }
      form.reset();
      document.getElementById('parties').textContent = '';
      if (marker) { map.removeLayer(marker); marker = null; }
      point = null;
      fillCategories();  // no point now: hides the hint and drops any answer still on its way
    }, function (err) { button.disabled = false; showErrors({}, String(err)); });
  });
})();
