'use strict';
// The plotly.js trace types the app draws, and nothing else (scripts/plotly-bundle/README.md).
// `scatter` is part of core: the statistics page's weekly trend lines.
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/choroplethmap'), // grid, village and town polygons (layers/mapfig.py)
    require('plotly.js/lib/scattermap'), // cases, warnings, resources, warning radius (layers/mapfig.py)
    require('plotly.js/lib/bar') // cases by domain / by village (layers/charts.py)
]);

// MapLibre's web worker, started now rather than when the first map is made: it reads its 0.5 MB of code
// while Dash builds the page, not between the map's creation and its first paint (README.md here).
// The module and the worker's code are those plotly.js's maps use (the same files, bundled once);
// the pool is kept for the page's maps, which find it warm.
var maplibregl = require('maplibre-gl/dist/maplibre-gl.mjs');
var maplibreWorkerSource = require('plotly.js/build/maplibre_worker');

maplibregl.setWorkerUrl(URL.createObjectURL(new Blob([maplibreWorkerSource], { type: 'text/javascript' })));
maplibregl.prewarm();

// plotly.js sets every map source's data anew whenever the figure changes at all (a name laid out for a
// move, one filter, one new case), and MapLibre then parses, tiles and draws each again in its worker:
// on a 2-core machine a quarter to half a second a time. Data equal to what the source was last given is
// skipped.
var setGeoJSON = maplibregl.GeoJSONSource.prototype.setData;
maplibregl.GeoJSONSource.prototype.setData = function (data, waitForCompletion) {
    var key = typeof data === 'string' ? data : JSON.stringify(data);
    if (key === this._townshipData) { return this; }
    this._townshipData = key;
    return setGeoJSON.call(this, data, waitForCompletion);
};

module.exports = Plotly;
