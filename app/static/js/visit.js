/* 记走访: place the visit on the map (or by the device's location), name the household, say why
   and what was heard, and save it through the outbox (outbox.js, kind "visit"): with no network
   it stays on the phone and is sent, with its key, when the network is back. */
(function () {
  'use strict';
  var S = GG.strings();
  var handle = GG.map('report');
  var form = document.getElementById('visit-form');
  if (!handle || !form) { return; }
  var map = handle.map;
  var placed = document.getElementById('placed');
  var formError = document.getElementById('form-error');
  var marker = null, point = null;

  function show(text, state) {
    placed.textContent = text;
    placed.className = 'placed' + (state ? ' ' + state : '');
  }

  function setPoint(lat, lon) {
    point = {lat: Math.round(lat * 1e6) / 1e6, lon: Math.round(lon * 1e6) / 1e6};
    if (marker) { marker.setLatLng([lat, lon]); } else {
      marker = L.marker([lat, lon], {keyboard: true}).addTo(map);
    }
    show(GG.fill(S.placedAt, {lat: point.lat, lon: point.lon}), 'ok');
  }
  map.on('click', function (e) { setPoint(e.latlng.lat, e.latlng.lng); });
  document.getElementById('place-centre').addEventListener('click', function () {
    var c = map.getCenter();
    setPoint(c.lat, c.lng);
  });
  document.getElementById('locate-me').addEventListener('click', function () {
    if (!navigator.geolocation) { show(S.geoFailed, 'bad'); return; }
    show(S.geoBusy);
    navigator.geolocation.getCurrentPosition(function (pos) {
      map.setView([pos.coords.latitude, pos.coords.longitude], Math.max(map.getZoom(), 16));
      setPoint(pos.coords.latitude, pos.coords.longitude);
    }, function () { show(S.geoFailed, 'bad'); }, {enableHighAccuracy: true, timeout: 15000});
  });

  function readPhotos() {
    var files = Array.prototype.slice.call(document.getElementById('photos').files || [], 0, 10);
    return Promise.resolve(files.map(function (f) {
      return {name: f.name, type: f.type, blob: f.slice(0, f.size, f.type)};
    }));
  }

  function showErrors(errors, message) {
    GG.showErrors(form, errors, {summary: formError, message: message,
                                 control: function (name) {
                                   return name === 'location' ? null : form.querySelector('[name="' + name + '"]');
                                 }});
  }

  /* A visit the server refused, opened again: its values back in the form (and its time). */
  var reopened = null, reopenedPhotos = [], reopenedAt = null;
  function reopen(record) {
    var b = record.body || {};
    form.reset();
    ['household', 'householder', 'purpose', 'heard'].forEach(function (name) {
      if (b[name] && form.elements[name]) { form.elements[name].value = b[name]; }
    });
    if (typeof b.lat === 'number' && typeof b.lon === 'number') {
      map.setView([b.lat, b.lon], Math.max(map.getZoom(), 16));
      setPoint(b.lat, b.lon);
    }
    reopened = record.key; reopenedPhotos = record.photos || []; reopenedAt = b.visited_at || null;
    showErrors(record.errors || {}, record.message || record.error);
    form.scrollIntoView();
  }
  if (window.Outbox && window.Outbox.onOpen) { window.Outbox.onOpen(reopen, S.reopen, 'visit'); }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    GG.clearErrors(form, formError);
    var data = new FormData(form);
    var body = {
      lon: point ? point.lon : null, lat: point ? point.lat : null,
      household: (data.get('household') || '').trim(),
      householder: (data.get('householder') || '').trim() || null,
      purpose: data.get('purpose'), heard: (data.get('heard') || '').trim(),
      // When it happened, not when the network came back.
      visited_at: reopenedAt || new Date().toISOString()
    };
    var errors = {};
    if (!point) { errors.location = [S.needPoint]; }
    ['household', 'heard'].forEach(function (name) { if (!body[name]) { errors[name] = [S.required]; } });
    if (Object.keys(errors).length) { showErrors(errors); return; }
    var button = document.getElementById('submit-visit');
    button.disabled = true;
    var replaced = reopened;
    readPhotos().then(function (photos) {
      return window.Outbox.add(body, photos.length ? photos : (replaced ? reopenedPhotos : []), 'visit');
    }).then(function (record) {
      button.disabled = false;
      if (replaced) { window.Outbox.forget(replaced); }
      reopened = null; reopenedPhotos = []; reopenedAt = null;
      if (record && record.status === 'failed') {
        reopened = record.key; reopenedPhotos = record.photos || []; reopenedAt = body.visited_at;
        showErrors(record.errors || {}, record.message || record.error);
        return;
      }
      if (record && (record.status === 'sent' || record.status === 'photos') && record.number) {
        show(S.sentNow + ' ' + record.number, 'ok');
      } else {
        show(S.queued);
      }
      form.reset();
      if (marker) { map.removeLayer(marker); marker = null; }
      point = null;
    }, function (err) { button.disabled = false; showErrors({}, String(err)); });
  });
})();
