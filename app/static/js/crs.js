/* GCJ-02 in the browser (docs/maps.md): the formulas of app/geo/crs.py, and a Leaflet CRS for
   GCJ-02 base maps (Amap, Tencent).

   L.CRS.GCJ02 is Web Mercator of the GCJ-02 coordinates: the map keeps working in WGS84 — every
   GeoJSON layer, marker, heat point, fitBounds, bbox and click (e.latlng) is WGS84 — and only
   the projection to pixels applies the offset, so every overlay lands where the GCJ-02 tiles
   draw it and every click reads back as WGS84. Nothing converts twice and nothing is forgotten.
   Vector tiles are pixels already: the server shifts them (/api/v1/tiles/...?crs=gcj02). */
(function () {
  'use strict';
  var A = 6378245.0;
  var EE = 0.00669342162296594323;
  var PI = Math.PI;

  function outsideChina(lon, lat) {
    return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
  }

  function transformLat(x, y) {
    var ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    ret += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    ret += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    ret += (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    return ret;
  }

  function transformLon(x, y) {
    var ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    ret += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    ret += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    ret += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    return ret;
  }

  /* [lon, lat] in GCJ-02 of a WGS84 point. */
  function wgs84ToGcj02(lon, lat) {
    if (outsideChina(lon, lat)) { return [lon, lat]; }
    var dlat = transformLat(lon - 105.0, lat - 35.0);
    var dlon = transformLon(lon - 105.0, lat - 35.0);
    var radlat = lat / 180.0 * PI;
    var magic = 1 - EE * Math.pow(Math.sin(radlat), 2);
    var sqrtmagic = Math.sqrt(magic);
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * PI);
    dlon = (dlon * 180.0) / (A / sqrtmagic * Math.cos(radlat) * PI);
    return [lon + dlon, lat + dlat];
  }

  /* [lon, lat] in WGS84 of a GCJ-02 point, by iteration (error < 1e-9 degrees). */
  function gcj02ToWgs84(lon, lat) {
    if (outsideChina(lon, lat)) { return [lon, lat]; }
    var wlon = lon, wlat = lat;
    for (var i = 0; i < 30; i++) {
      var g = wgs84ToGcj02(wlon, wlat);
      var dlon = g[0] - lon, dlat = g[1] - lat;
      if (Math.abs(dlon) < 1e-10 && Math.abs(dlat) < 1e-10) { break; }
      wlon -= dlon; wlat -= dlat;
    }
    return [wlon, wlat];
  }

  window.GGCrs = {wgs84ToGcj02: wgs84ToGcj02, gcj02ToWgs84: gcj02ToWgs84, outsideChina: outsideChina};

  if (typeof L === 'undefined') { return; }
  var mercator = L.Projection.SphericalMercator;
  var projection = {
    R: mercator.R,
    MAX_LATITUDE: mercator.MAX_LATITUDE,
    bounds: mercator.bounds,
    project: function (latlng) {
      var g = wgs84ToGcj02(latlng.lng, latlng.lat);
      return mercator.project(L.latLng(g[1], g[0]));
    },
    unproject: function (point) {
      var g = mercator.unproject(point);
      var w = gcj02ToWgs84(g.lng, g.lat);
      return L.latLng(w[1], w[0]);
    }
  };
  L.CRS.GCJ02 = L.extend({}, L.CRS.EPSG3857, {code: 'GCJ02', projection: projection});
})();
