/* 随手拍: the resident's page (/report/public: get a code, tap the map, describe, send with
   photos, show the receipt) and the staff page of one report (its point on the map). */
(function () {
  'use strict';
  var S = GG.strings();

  /* The staff page: a marker at the report's point. */
  var pointBox = document.getElementById('selfreport-point');
  if (pointBox) {
    var shown = GG.map('case');
    if (shown) {
      L.marker([+pointBox.dataset.lat, +pointBox.dataset.lon]).addTo(shown.map);
    }
    pointBox.dataset.ready = 'true';
    return;
  }

  var handle = GG.map('report');
  var form = document.getElementById('selfreport-form');
  if (!handle || !form) { return; }
  var map = handle.map;
  var box = document.getElementById('selfreport-map');
  var placed = document.getElementById('placed');
  var formError = document.getElementById('form-error');
  var codeStatus = document.getElementById('code-status');
  var marker = null, point = null;

  /* The grid cells (public outlines), so the map is usable without tiles. */
  var cells = GG.strings('public-cells');
  if (cells && cells.features) {
    var layer = L.geoJSON(cells, {
      style: {color: '#0b6e4f', weight: 1, fillOpacity: 0.05}, interactive: false
    }).addTo(map);
    if (layer.getLayers().length) { map.fitBounds(layer.getBounds(), {padding: [8, 8], animate: false}); }
  }
  box.dataset.ready = 'true';

  function place(lat, lon) {
    point = {lat: lat, lon: lon};
    if (marker) { marker.setLatLng([lat, lon]); } else { marker = L.marker([lat, lon]).addTo(map); }
    placed.textContent = S.placed.replace('{lat}', lat.toFixed(5)).replace('{lon}', lon.toFixed(5));
  }
  map.on('click', function (e) { place(e.latlng.lat, e.latlng.lng); });
  document.getElementById('locate-me').addEventListener('click', function () {
    if (!navigator.geolocation) { placed.textContent = S.geoFailed; return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      place(p.coords.latitude, p.coords.longitude);
      map.setView([p.coords.latitude, p.coords.longitude], 16);
    }, function () { placed.textContent = S.geoFailed; });
  });

  function showError(body, status) {
    var text = status === 429 ? S.busy : ((body && body.message) || S.failed);
    var errors = (body && body.errors) || {};
    var fields = Object.assign({}, errors.json || {}, errors.photos ? {photos: errors.photos} : {});
    Object.keys(fields).forEach(function (name) {
      var messages = fields[name];
      text += ' · ' + name + '：' + (Array.isArray(messages) ? messages.join('；') : messages);
    });
    formError.textContent = text;
    formError.hidden = false;
    formError.focus();
  }

  document.getElementById('send-code').addEventListener('click', function () {
    formError.hidden = true;
    var phone = document.getElementById('phone').value.trim();
    GG.api('POST', '/api/v1/public/phone-codes', {phone: phone}).then(function (r) {
      if (r.ok) { codeStatus.textContent = S.sent; } else { showError(r.body, r.status); }
    }, function () { showError(null, 0); });
  });

  /* One key per filled-in report: a resend after a lost answer finds the same report. */
  var clientKey = 'web-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    formError.hidden = true;
    if (!point) { showError({message: S.needPoint}, 422); return; }
    var data = new FormData(form);
    data.set('lon', point.lon.toFixed(6));
    data.set('lat', point.lat.toFixed(6));
    data.set('client_key', clientKey);
    fetch('/api/v1/public/reports', {
      method: 'POST', body: data, credentials: 'same-origin',
      headers: {'Accept': 'application/json', 'X-CSRFToken': GG.csrfToken()}
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok) { showError(body, response.status); return; }
        document.getElementById('receipt-number').textContent = body.number;
        document.getElementById('receipt-code').textContent = body.code;
        var link = document.getElementById('receipt-link');
        link.href = body.progress_url;
        document.getElementById('receipt').hidden = false;
        form.hidden = true;
        document.getElementById('receipt').scrollIntoView();
      });
    }, function () { showError(null, 0); });
  });
})();
