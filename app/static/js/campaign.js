/* A campaign's progress map: its grid cells coloured done / pending / overdue (the colours of
   maps/legends.py CAMPAIGN_COLOURS), each linking to its task. */
(function () {
  'use strict';
  var S = GG.strings();
  var box = document.getElementById('campaign-map');
  var handle = GG.map('campaign');
  if (!box || !handle) { return; }
  var map = handle.map;
  var status = document.getElementById('map-status');
  var colours = {done: '#0b6e4f', pending: '#e6c229', overdue: '#d7191c'};

  var cells = L.geoJSON(null, {
    style: function (f) {
      return {color: '#333', weight: 1, fillColor: colours[f.properties.state], fillOpacity: 0.55};
    },
    onEachFeature: function (f, layer) {
      var div = GG.el('div');
      div.appendChild(GG.el('strong', {}, f.properties.name));
      div.appendChild(GG.el('div', {}, S.states[f.properties.state]));
      div.appendChild(GG.el('a', {href: '/campaign-tasks/' + f.properties.task_id}, S.open));
      layer.bindPopup(div);
    }
  }).addTo(map);

  status.textContent = S.loading;
  GG.api('GET', box.dataset.layer).then(function (r) {
    if (!r.ok) { status.textContent = S.failed; return; }
    cells.addData(r.body);
    box.dataset.loaded = String(r.body.features.length);
    status.textContent = '';
    if (r.body.features.length) { map.fitBounds(cells.getBounds(), {padding: [10, 10]}); }
  }, function () { status.textContent = S.failed; });
})();
