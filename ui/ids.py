"""Every component id of the dashboard, in one place, prefixed by panel."""

URL = "url"
PAGE = "page"  # what the router fills
STATE = "state"  # the one dcc.Store of the filter state
VIEW = "state-view"  # the map's uirevision: which villages the view is fitted to
GRIDS_SENT = "state-grids-sent"  # whether the map holds the level-3 geometry yet (sent lazily when many)
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
MAP_CAMERA = "map-camera"  # what the map shows (zoom, lon/lat bounds), sent by assets/mapview.js after each move

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
MAP_VERSION = "live-map-version"  # the data version in the map's figure (its layout.meta too)
# The data version the map has drawn: the statistics and the table follow it, so after new data
# they ask the server only once the map has drawn it, and never compete with it.
DRAWN = "live-drawn"
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
IMPORT_SLOT = "import-slot"  # the import panel, put in when the statistics and data tab first opens
IMPORT_SPEC = "import-spec"  # dcc.Store: that panel as component JSON (ui.dashboard.import_spec)

# wall display (/wall): nobody touches it, so everything here refreshes by itself
WALL = "wall"  # the page's root (its class scopes assets/wall.css)
WALL_MAP = "wall-map"
WALL_HEADLINE = "wall-headline"
WALL_RANKING = "wall-ranking"
WALL_FEED = "wall-feed"
WALL_BANNER = "wall-banner"
WALL_STOP = "wall-stop"  # the name of the stop the map shows; data-stop = its key
WALL_STOP_DETAIL = "wall-stop-detail"  # its figures
WALL_TOUR = "wall-tour"  # data-order = the planned visiting order (village ids)
WALL_LEGEND = "wall-legend"
WALL_CLOCK = "wall-clock"
WALL_AGE = "wall-age"  # "数据更新于 3 秒前", red when stale
WALL_OFFLINE = "wall-offline"  # shown while the server does not answer
WALL_TICK = "wall-tick"  # dcc.Interval, 1 s: clock, tour
WALL_POLL = "wall-poll"  # dcc.Interval, the dashboard's POLL_MS: the data version
WALL_MINUTE = "wall-minute"  # dcc.Interval, 60 s: a full refresh (overdue and ages move with time)
WALL_OPTIONS = "wall-options"  # the URL options and the texts the browser-side code needs
WALL_SCALE = "wall-scale"  # screen width / 1920: marker sizes follow it
WALL_SHOWN = "wall-shown"  # the data version on screen
WALL_WANT = "wall-want"  # the data version the poll asks the server to show
WALL_HEALTH = "wall-health"  # last successful poll, consecutive failures
WALL_PLAN = "wall-plan"  # the tour's stops, busiest village first
WALL_CURSOR = "wall-cursor"  # where the tour is and since when
WALL_FOCUS = "wall-focus"  # the newest red warning to jump to
WALL_REDS = "wall-reds"  # ids of the live red warnings already seen

# responder view /grid/<grid_id> (phone)
RSP_PAGE = "rsp-page"
RSP_OFFICER = "rsp-officer"
RSP_CALL = "rsp-call"
RSP_MAP = "rsp-map"
RSP_WARNINGS = "rsp-warnings"
RSP_CASES = "rsp-cases"
RSP_RESOURCES = "rsp-resources"
RSP_NEIGHBOURS = "rsp-neighbours"
RSP_DOWNLOAD_HTML = "rsp-download-html"
RSP_DOWNLOAD_PDF = "rsp-download-pdf"
RSP_DOWNLOAD_PNG = "rsp-download-png"
RSP_BACK_VILLAGE = "rsp-back-village"
RSP_BACK_TOWN = "rsp-back-town"

# export links row of the dashboard
EXPORT_ROW = "export-row"
EXPORT_CSV = "export-csv"
EXPORT_XLSX = "export-xlsx"
EXPORT_GEOJSON = "export-geojson"
EXPORT_REPORT = "export-report"

# case card (the closed loop beside the map): one case, its timeline, the viewer's moves
CASE_OPENED = "case-opened"  # dcc.Store: {"id": case id, "version": the case's version the card shows}
CASE_CARD = "case-card"  # the panel; hidden while no case is open
CASE_MSG = "case-msg"  # why a move was refused, or what it did
# pattern ids inside the card and the lists (their components come and go):
CASE_MOVE = "case-move"  # {"type": CASE_MOVE, "move": "dispatch"}: one button per allowed move
CASE_OPEN = "case-open"  # {"type": CASE_OPEN, "case": 123}: a listed case; opens its card
CASE_FIELD = "case-field"  # {"type": CASE_FIELD, "name": "handler" | "text"}: the move's parameters
CASE_CONTROL = "case-control"  # {"type": CASE_CONTROL, "name": "close" | "reload"}
CASE_PHOTOS = "case-photos"  # the case's photo thumbnails, each a link to the full photo (no callback)

# statistics of the closed loop (under the charts)
STATS = "stats"
STATS_BODY = "stats-body"

# who is signed in (header)
ACCOUNT = "account"
IMPORT_NONCE = "import-nonce"  # dcc.Store: a token per page load, part of the import job's key (see callbacks.imports)

# warning card (一点指挥 beside the map): one warning, whom to call, what is near, its moves and tasks
WARN_OPENED = "warn-opened"  # dcc.Store: {"id": warning id, "version": the warning's version the card shows}
WARN_CARD = "warn-card"  # the panel; hidden while no warning is open
WARN_MSG = "warn-msg"  # why a move was refused, or what it did
WARN_STATUS = "warn-status"  # the warning's status badge
# pattern ids inside the card (its components come and go):
WARN_MOVE = "warn-move"  # {"type": WARN_MOVE, "move": "acknowledge" | "handle" | "clear"}
WARN_DISPATCH = "warn-dispatch"  # {"type": WARN_DISPATCH, "handler": handler id}: dispatch a task to them
WARN_FIELD = "warn-field"  # {"type": WARN_FIELD, "name": "text"}: the note of a move or a task
WARN_CONTROL = "warn-control"  # {"type": WARN_CONTROL, "name": "close" | "reload"}

# admin page (/admin, admin role only): grid versions, rosters, users and tokens
ADMIN_GRID_UPLOAD = "admin-grid-upload"  # dcc.Upload of a grid file
ADMIN_GRID_REPORT = "admin-grid-report"  # what the check found: the problems, numbered as on the map
ADMIN_GRID_MAP = "admin-grid-map"  # the validation map: each problem drawn where it is
ADMIN_GRID_DIFF = "admin-grid-diff"  # the diff against the grids in use and what it does to data
ADMIN_GRID_CANDIDATE = "admin-grid-candidate"  # dcc.Store: the id of the version the checked upload was kept as
ADMIN_GRID_APPLY = "admin-grid-apply"  # put the checked upload in use
ADMIN_GRID_RESULT = "admin-grid-result"  # what applying or restoring did
ADMIN_VERSIONS = "admin-versions"  # the table of kept grid versions
ADMIN_VERSION_PICK = "admin-version-pick"  # a version to put back
ADMIN_VERSION_RESTORE = "admin-version-restore"
ADMIN_STAFF_UPLOAD = "admin-staff-upload"  # dcc.Upload of a staff / party-member roster
ADMIN_STAFF_ACCOUNTS = "admin-staff-accounts"  # give new people a sign-in
ADMIN_STAFF_REPORT = "admin-staff-report"
ADMIN_USERS = "admin-users"  # the table of users
ADMIN_TOKENS = "admin-tokens"  # the table of API tokens
ADMIN_USERS_MSG = "admin-users-msg"  # what the last user or token action did (a new password, once)
ADMIN_USER_NAME = "admin-user-name"
ADMIN_USER_DISPLAY = "admin-user-display"
ADMIN_USER_ROLE = "admin-user-role"
ADMIN_USER_VILLAGE = "admin-user-village"
ADMIN_USER_PASSWORD = "admin-user-password"
ADMIN_USER_CREATE = "admin-user-create"
ADMIN_USER_PICK = "admin-user-pick"
ADMIN_USER_DISABLE = "admin-user-disable"
ADMIN_USER_ENABLE = "admin-user-enable"
ADMIN_USER_RESET = "admin-user-reset"
ADMIN_TOKEN_PICK = "admin-token-pick"
ADMIN_TOKEN_REVOKE = "admin-token-revoke"
ADMIN_DEVICES = "admin-devices"  # the table of phones signed in to the field app (device sessions)
ADMIN_DEVICE_PICK = "admin-device-pick"
ADMIN_DEVICE_REVOKE = "admin-device-revoke"
# Notifications (issue 13): the unread badge on the account chip.
ACCOUNT_UNREAD = "account-unread"
# the desk console (one screen) and its statistics page
TAB = "desk-tab"  # dcc.RadioItems in the header: "desk" (map, table, cards) or "stats"
STATS_PAGE = "stats-page"  # the statistics page over the desk; hidden while the desk is shown
TABLE_SLOT = "table-slot"  # where the case table is put once the map has drawn (assets/dashboard.js loadTable)
TABLE_SPEC = "table-spec"  # dcc.Store: the case table (component JSON) and the URL of its library's script
SIDE = "desk-side"  # the right column: the open cards above the grid panel
# the analysis page (/analysis): hotspots and the monthly evaluation
AN_DOMAIN = "an-domain"
AN_TYPE = "an-type"
AN_WINDOW = "an-window"
AN_MEASURE = "an-measure"
AN_MAP = "an-map"  # the hotspot map (grid fills by bin, with its legend)
AN_HOT = "an-hot"  # the ranked list of hot grids
AN_MSG = "an-msg"  # what the analysis could not do (a rate without households)
AN_MONTH = "an-month"
AN_UNIT = "an-unit"
AN_EVAL = "an-eval"  # the evaluation table
AN_XLSX = "an-xlsx"  # download links of the evaluation
AN_PDF = "an-pdf"
# evacuation (转移安置): the warning card's section and the wall's progress bars (start: WARN_MOVE "evacuate")
EVAC_SECTION = "evac-section"  # the warning card's progress section
WALL_EVAC = "wall-evac"  # the wall's evacuation progress: counts and a bar per affected village, no names
# the account chip's unread badge follows new notifications (ACCOUNT_UNREAD above)
ACCOUNT_POLL = "account-poll"  # dcc.Interval: how often the badge asks again (a fan-out moves no data version)
# time playback (回放, issue 17): the desk's time control above the map, and the wall's replay stop
PB_BAR = "pb-bar"  # the time control: the toggle while live, the player while a moment is replayed
PB_OPEN = "pb-open"  # button 时间回放: start replaying (the last 24 hours, paused at their start)
PB_LIVE = "pb-live"  # button 返回实时: back to live
PB_PLAYER = "pb-player"  # dcc.Store: the player (playing, speed, step, loop, range), callbacks.playback.Player
PB_TIMER = "pb-timer"  # dcc.Interval: one frame per tick while playing
PB_PLAY = "pb-play"  # play / pause
PB_BACK = "pb-back"  # one step back
PB_FWD = "pb-fwd"  # one step forward
PB_LOOP = "pb-loop"  # dcc.Checklist: start again at the range's end
PB_SPEED = "pb-speed"  # 1×/2×/4×/8×
PB_STEP = "pb-step"  # step size: 15 min, 1 h, 1 d
PB_MODE = "pb-mode"  # cumulative, or a moving window of N hours
PB_RANGE = "pb-range"  # preset: last 24 h, a week, a month, the whole trail, custom
PB_FROM = "pb-from"  # custom range: start, a Beijing time typed as text (2026-12-05 18:00, ui.playback.TYPED)
PB_TO = "pb-to"  # custom range: end
PB_CUSTOM = "pb-custom"  # the custom range's two inputs, shown when the preset is custom
PB_SLIDER = "pb-slider"  # the moment within the range (epoch seconds)
PB_CLOCK = "pb-clock"  # the moment in Beijing time, beside the slider
PB_BADGE = "pb-badge"  # over the map while replaying: 回放 and the clock
WALL_REPLAY = "wall-replay"  # dcc.Store: the wall's replay frame asked for ({"t": epoch s}) or None (live)
WALL_REPLAY_LABELS = "wall-replay-labels"  # dcc.Store: what the names on the map say during the replay
WALL_REPLAY_BADGE = "wall-replay-badge"  # over the wall's map during its replay stop: 回放 and the clock
LEGEND_EVAC = "legend-evac"  # the desk legend's evacuation key, shown while the map shades evacuation grids
