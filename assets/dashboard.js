/* The dashboard's browser side: the callbacks that run in the page, not on the server (see
 * callbacks/dashboard.py, which names them with ClientsideFunction("dashboard", ...)).
 * Component ids come in as arguments (State(..., "id"), the table's in its spec), so ui/ids.py stays their
 * one source.
 */
window.dash_clientside = window.dash_clientside || {};

/* The longest the case table waits for the map's first draw (a map that never draws must not keep it away). */
const TABLE_WAIT_MS = 20000;

/* Resolves once MapLibre has painted some of the map's shapes (or after TABLE_WAIT_MS): loaded is not drawn.
 * Only the figure's own layers count: the base map's river and roads are painted before any trace is in. */
function shapesShown(mapId) {
  return new Promise(resolve => {
    const start = performance.now();
    const check = () => {
      const gd = document.querySelector('#' + mapId + ' .js-plotly-plot');
      const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      const traces = sub && sub.map ? sub.map.getLayersOrder().filter(id => id.startsWith('plotly-trace-layer-')) : [];
      const painted = traces.length > 0 && sub.map.queryRenderedFeatures({layers: traces}).length > 0;
      if (painted || performance.now() - start > TABLE_WAIT_MS) {
        requestAnimationFrame(() => requestAnimationFrame(resolve));
      } else {
        setTimeout(check, 50);
      }
    };
    check();
  });
}

/* Whether the case table (`spec`: its component JSON, ui/dashboard.py table_spec) is on the page yet. */
function tableShown(spec) {
  return Boolean(spec && document.getElementById(spec.component.props.id));
}

window.dash_clientside.dashboard = {
  /* The URL mirrors the state without a reload or a router round trip, and the table
   * drops its cached blocks so it asks again under the new filter. */
  mirrorQuery: function (query, spec) {
    if (query === null || query === undefined) {
      return window.dash_clientside.no_update;  // the page as the URL asked: nothing to correct
    }
    window.history.replaceState(null, '', window.location.pathname + query);
    if (window.dash_ag_grid && dash_ag_grid.getApiAsync && tableShown(spec)) {
      dash_ag_grid.getApiAsync(spec.component.props.id).then(api => api.purgeInfiniteCache());
    }
    return window.dash_clientside.no_update;
  },

  /* Resolves with `version` once the map has drawn it (`anyVersion`: whatever it shows; or after 3 s): the statistics and
   * the table ask the server only then. Asked at once, at city scale their answers held
   * the browser's main thread while the map waited to draw (bench/ingest.py freshness). */
  mapDrawn: function (version, mapId, anyVersion, waitMs) {
    return new Promise(resolve => {
      const start = performance.now();
      const wait = waitMs || 3000;
      const check = () => {
        const gd = document.querySelector('#' + mapId + ' .js-plotly-plot');
        const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
        const shown = gd && gd.layout && (anyVersion || (gd.layout.meta && gd.layout.meta.version === version));
        const drawn = shown && sub && sub.map && sub.map.loaded() && sub.map.areTilesLoaded();
        if (drawn || performance.now() - start > wait) {
          resolve(version);
        } else {
          setTimeout(check, 25);
        }
      };
      check();
    });
  },

  /* After new data, the table asks again for the blocks it shows, keeping its scroll position. */
  refreshTable: function (version, spec) {
    if (window.dash_ag_grid && dash_ag_grid.getApiAsync && tableShown(spec)) {
      dash_ag_grid.getApiAsync(spec.component.props.id).then(api => api.refreshInfiniteCache());
    }
    return window.dash_clientside.no_update;
  },

  /* The case table once the map has drawn (or after 3 s): its library's script (left out of the
   * page's scripts, app.py defer_table_library) is loaded then, and the table rendered from `spec`.
   * Before the map, its 0.6 MB kept the map from drawing within docs/design.md §4's 1 MB and 1.5 s. */
  loadTable: function (spec, mapId) {
    const dc = window.dash_clientside;
    if (!spec) {
      return dc.no_update;
    }
    const drawn = dc.dashboard.mapDrawn(null, mapId, true, TABLE_WAIT_MS).then(() => shapesShown(mapId));
    // Then when the browser is idle: the map has painted, and the script's parsing does not hold its frames.
    const idle = drawn.then(() => new Promise(resolve => window.requestIdleCallback(resolve, {timeout: 2000})));
    return idle.then(() => new Promise((resolve, reject) => {
      if (window.dash_ag_grid) {
        resolve(spec.component);
        return;
      }
      const script = document.createElement('script');
      script.src = spec.script;
      script.onload = () => resolve(spec.component);
      script.onerror = () => reject(new Error('could not load ' + spec.script));
      document.head.appendChild(script);
    }));
  },

  /* The file import (`spec`: its component JSON, ui/dashboard.py import_spec) once the statistics and data
   * tab first opens: mounted with the page, its file drop's script came before the map had drawn. */
  showImport: function (tab, spec, shown) {
    return tab === 'stats' && spec && !shown ? spec : window.dash_clientside.no_update;
  },

  /* 指挥台 | 统计与数据: the statistics page over the desk (the desk stays laid out under it, so the
   * map keeps its size and view). */
  showTab: function (tab) {
    return tab !== 'stats';
  }
};
