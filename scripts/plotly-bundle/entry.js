'use strict';
// The plotly.js trace types the app draws, and nothing else (scripts/plotly-bundle/README.md).
// `scatter` is part of core: the statistics page's weekly trend lines.
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/choroplethmap'), // grid, village and town polygons (layers/mapfig.py)
    require('plotly.js/lib/scattermap'), // cases, warnings, resources, warning radius (layers/mapfig.py)
    require('plotly.js/lib/bar') // cases by domain / by village (layers/charts.py)
]);

module.exports = Plotly;
