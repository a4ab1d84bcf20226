/* The dashboard's browser side: the callbacks that run in the page, not on the server (see
 * callbacks/dashboard.py, which names them with ClientsideFunction("dashboard", ...)).
 * Component ids come in as arguments (State(..., "id")), so ui/ids.py stays their one source.
 */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.dashboard = {
  /* The URL mirrors the state without a reload or a router round trip, and the table
   * drops its cached blocks so it asks again under the new filter. */
  mirrorQuery: function (query, tableId) {
    window.history.replaceState(null, '', window.location.pathname + query);
    if (window.dash_ag_grid && dash_ag_grid.getApiAsync) {
      dash_ag_grid.getApiAsync(tableId).then(api => api.purgeInfiniteCache());
    }
    return window.dash_clientside.no_update;
  },

  /* Resolves with `version` once the map has drawn it (or after 3 s): the statistics and
   * the table ask the server only then. Asked at once, at city scale their answers held
   * the browser's main thread while the map waited to draw (bench/ingest.py freshness). */
  mapDrawn: function (version, mapId) {
    return new Promise(resolve => {
      const start = performance.now();
      const check = () => {
        const gd = document.querySelector('#' + mapId + ' .js-plotly-plot');
        const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
        const shown = gd && gd.layout && gd.layout.meta && gd.layout.meta.version === version;
        const drawn = shown && sub && sub.map && sub.map.loaded() && sub.map.areTilesLoaded();
        if (drawn || performance.now() - start > 3000) {
          resolve(version);
        } else {
          setTimeout(check, 25);
        }
      };
      check();
    });
  },

  /* After new data, the table asks again for the blocks it shows, keeping its scroll position. */
  refreshTable: function (version, tableId) {
    if (window.dash_ag_grid && dash_ag_grid.getApiAsync) {
      dash_ag_grid.getApiAsync(tableId).then(api => api.refreshInfiniteCache());
    }
    return window.dash_clientside.no_update;
  }
};
