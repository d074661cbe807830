/* Helpers every page script uses: the API with the session cookie and CSRF token, page strings,
   map helpers (visible box, colours) shared with the legends in maps/legends.py. */
(function () {
  'use strict';

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  /* Strings the page translated for its script: <script type="application/json" id="...">. */
  function strings(id) {
    var node = document.getElementById(id || 'page-strings');
    return node ? JSON.parse(node.textContent) : {};
  }

  /* Call our API; resolves to {status, ok, body} and rejects only when the network fails. */
  function api(method, url, body, headers) {
    var options = {
      method: method,
      credentials: 'same-origin',
      headers: Object.assign({'Accept': 'application/json'}, headers || {})
    };
    if (method !== 'GET') {
      options.headers['X-CSRFToken'] = csrfToken();
    }
    if (body !== undefined && body !== null) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        return {status: response.status, ok: response.ok, body: parsed};
      });
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  /* The map's visible box as the API's bbox parameter (at most 2 degrees a side). */
  function bbox(map) {
    var b = map.getBounds();
    var w = Math.max(b.getWest(), -180), s = Math.max(b.getSouth(), -90);
    var e = Math.min(b.getEast(), 180), n = Math.min(b.getNorth(), 90);
    var cx = (w + e) / 2, cy = (s + n) / 2;
    if (e - w > 1.99) { w = cx - 0.995; e = cx + 0.995; }
    if (n - s > 1.99) { s = cy - 0.995; n = cy + 0.995; }
    return [w, s, e, n].map(function (x) { return x.toFixed(5); }).join(',');
  }

  /* Wait for the map folium built (maps/base.py PageHandle) under its key. */
  function map(key) {
    return (window.GridGovMaps || {})[key] || null;
  }

  var colours = {
    risk: {red: '#d7191c', orange: '#f28e2b', yellow: '#e6c229', blue: '#2c7bb6'},
    score: [[15, '#b30000'], [8, '#e34a33'], [4, '#fdbb84'], [1, '#fee8c8'], [0, '#f7f7f7']],
    caseOpen: '#0b6e4f', caseYellow: '#e6c229', caseRed: '#d7191c', caseSettled: '#7b8794'
  };

  function scoreColour(score) {
    for (var i = 0; i < colours.score.length; i++) {
      if (score >= colours.score[i][0]) { return colours.score[i][1]; }
    }
    return colours.score[colours.score.length - 1][1];
  }

  function caseColour(props) {
    var open = ['reported', 'accepted', 'in_progress'].indexOf(props.state) >= 0;
    if (!open) { return colours.caseSettled; }
    if (props.warning === 'red') { return colours.caseRed; }
    if (props.warning === 'yellow') { return colours.caseYellow; }
    return colours.caseOpen;
  }

  /* A DOM element with text content only (never HTML from data). */
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  window.GG = {
    api: api, csrfToken: csrfToken, strings: strings, debounce: debounce, bbox: bbox,
    map: map, colours: colours, scoreColour: scoreColour, caseColour: caseColour, el: el
  };
})();
