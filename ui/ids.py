"""Every component id of the dashboard, in one place, prefixed by panel."""

URL = "url"
PAGE = "page"  # what the router fills
STATE = "state"  # the one dcc.Store of the filter state
VIEW = "state-view"  # the map's uirevision: which villages the view is fitted to
QUERY = "state-query"  # the state as a URL query, mirrored into the address bar
NOTICE = "notice"

# filter panel
F_VILLAGE = "filter-village"
F_LEVEL = "filter-level"
F_DOMAIN = "filter-domain"
F_STATUS = "filter-status"
F_TYPE = "filter-type"
F_WLEVEL = "filter-wlevel"
F_WINDOW = "filter-window"
F_MEASURE = "filter-measure"
F_LAYERS = "filter-layers"
F_RESET = "filter-reset"
F_LANG = "filter-lang"

# map and its breadcrumb
MAP = "map-graph"
CRUMBS = "map-crumbs"
CRUMB_TOWN = "map-crumb-town"
CRUMB_VILLAGE = "map-crumb-village"

# figures, charts, table, side panel
HEADLINE = "fig-headline"
CHART_DOMAIN = "chart-domain"
CHART_VILLAGE = "chart-village"
TABLE = "table-cases"
TABLE_COUNT = "table-count"
PANEL = "panel-grid"

# live updates and the warning banner
TICK = "live-tick"  # dcc.Interval: checks the data version
VERSION = "live-version"  # the data version this page shows
ALERT = "alert-banner"
ALERT_TEXT = "alert-text"
ALERT_ACK = "alert-ack"

# file import (operators)
IMPORT_UPLOAD = "import-upload"
IMPORT_KIND = "import-kind"
IMPORT_MODE = "import-mode"
IMPORT_SOURCE = "import-source"
IMPORT_PROGRESS = "import-progress"
IMPORT_REPORT = "import-report"
