"""Typed settings, read once from the environment, and the key that signs the sign-in cookie.

Every setting has an embedded default so that ``make run`` needs nothing:
a SQLite file under ``var/`` and the bundled illustrative Dalu grids.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from township.domain.policy import check_role
from township.domain.sla import DEFAULT_SLA, SlaConfig
from township.domain.vocab import CASE_TYPES

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_GRIDS = ROOT / "geodata" / "dalu_grids.geojson"
BUNDLED_RESOURCES = ROOT / "geodata" / "dalu_resources.geojson"


@dataclass(frozen=True)
class NotifyConfig:
    """How notifications are delivered (`township.runtime.notifier`); the channels themselves are subscriptions.

    Attributes
    ----------
    worker : bool
        ``python app.py`` runs the delivery worker in a thread; ``NOTIFY_WORKER`` (default on).
        Under gunicorn run ``python -m township notify`` beside it.
    poll_s : float
        Seconds between two looks at the outbox when there is nothing to send; ``NOTIFY_POLL_S``.
    lease_s : float
        How long a worker holds a message it is sending; another worker takes it over after
        that (the sender died); ``NOTIFY_LEASE_S``. Each try waits at most half of it.
    retry_s, retry_max_s : float
        The first wait before trying again, doubled after each failure up to ``retry_max_s``;
        ``NOTIFY_RETRY_S``, ``NOTIFY_RETRY_MAX_S``.
    give_up_s : float
        After this long undelivered a message becomes a dead letter, with the reason; ``NOTIFY_GIVE_UP_S``.
    robot_per_minute : int
        Messages a group robot takes a minute (企业微信 and 钉钉: 20); ``NOTIFY_ROBOT_PER_MINUTE``.
    sms_provider : str
        ``log`` (the default: writes the message, the phone masked, to the log) or ``aliyun``
        (Aliyun SMS ``SendSms``); ``SMS_PROVIDER``.
    sms_access_key_id, sms_access_key_secret, sms_sign_name, sms_template_code : str
        The Aliyun account, signature (签名) and template (模板) code; ``SMS_ACCESS_KEY_ID``,
        ``SMS_ACCESS_KEY_SECRET``, ``SMS_SIGN_NAME``, ``SMS_TEMPLATE_CODE``. The template takes
        ``${event}``, ``${id}`` and ``${title}``.
    sms_endpoint : str
        The API's address; ``SMS_ENDPOINT`` (default ``https://dysmsapi.aliyuncs.com/``).
    """

    worker: bool = True
    poll_s: float = 2.0
    lease_s: float = 60.0
    retry_s: float = 10.0
    retry_max_s: float = 900.0
    give_up_s: float = 86_400.0
    robot_per_minute: int = 20
    sms_provider: str = "log"
    sms_access_key_id: str = ""
    sms_access_key_secret: str = ""
    sms_sign_name: str = ""
    sms_template_code: str = ""
    sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"

    def __post_init__(self) -> None:
        for name, value in (("NOTIFY_POLL_S", self.poll_s), ("NOTIFY_LEASE_S", self.lease_s),
                            ("NOTIFY_RETRY_S", self.retry_s), ("NOTIFY_RETRY_MAX_S", self.retry_max_s),
                            ("NOTIFY_GIVE_UP_S", self.give_up_s), ("NOTIFY_ROBOT_PER_MINUTE", self.robot_per_minute)):
            if not value > 0:
                raise ValueError(f"{name} must be more than 0, not {value}")
        if self.sms_provider not in ("log", "aliyun"):
            raise ValueError(f"SMS_PROVIDER={self.sms_provider!r} unknown; allowed: log, aliyun")
        missing = [name for name, value in (("SMS_ACCESS_KEY_ID", self.sms_access_key_id),
                                            ("SMS_ACCESS_KEY_SECRET", self.sms_access_key_secret),
                                            ("SMS_SIGN_NAME", self.sms_sign_name),
                                            ("SMS_TEMPLATE_CODE", self.sms_template_code)) if not value]
        if self.sms_provider == "aliyun" and missing:
            raise ValueError(f"SMS_PROVIDER=aliyun needs {', '.join(missing)}")

    @classmethod
    def from_env(cls, env: dict[str, str]) -> NotifyConfig:
        """The notification settings of ``env``."""
        base = cls()
        return cls(
            worker=env.get("NOTIFY_WORKER", "1") not in ("0", "false", "no"),
            poll_s=float(env.get("NOTIFY_POLL_S", base.poll_s)),
            lease_s=float(env.get("NOTIFY_LEASE_S", base.lease_s)),
            retry_s=float(env.get("NOTIFY_RETRY_S", base.retry_s)),
            retry_max_s=float(env.get("NOTIFY_RETRY_MAX_S", base.retry_max_s)),
            give_up_s=float(env.get("NOTIFY_GIVE_UP_S", base.give_up_s)),
            robot_per_minute=int(env.get("NOTIFY_ROBOT_PER_MINUTE", base.robot_per_minute)),
            sms_provider=env.get("SMS_PROVIDER", base.sms_provider),
            sms_access_key_id=env.get("SMS_ACCESS_KEY_ID", ""),
            sms_access_key_secret=env.get("SMS_ACCESS_KEY_SECRET", ""),
            sms_sign_name=env.get("SMS_SIGN_NAME", ""),
            sms_template_code=env.get("SMS_TEMPLATE_CODE", ""),
            sms_endpoint=env.get("SMS_ENDPOINT", base.sms_endpoint),
        )


@dataclass(frozen=True)
class Settings:
    """What the app needs to start.

    Attributes
    ----------
    database_url : str
        SQLAlchemy URL; ``DATABASE_URL``. Default: ``sqlite:///var/township.db``.
    grids_file : Path
        Grid GeoJSON loaded at start; ``GRIDS_FILE``. A file that fails
        validation leaves the grids already stored in use.
    grids_crs : str | None
        CRS of ``grids_file`` when the file names none (``wgs84``, ``gcj02``, ``bd09``, ``EPSG:NNNN``); ``GRIDS_CRS``.
    resources_file : Path
        Resource points GeoJSON; ``RESOURCES_FILE``.
    host, port : str, int
        Where to serve; ``HOST`` and ``PORT``.
    tile_url : str | None
        Optional raster XYZ tile template (an intranet or Tianditu server);
        ``TILE_URL``. Unset means no base map: nothing loads from outside.
    tile_attribution : str
        Attribution shown for ``tile_url``; ``TILE_ATTRIBUTION``.
    seed_demo : bool
        Seed a year of illustrative history into an empty store; ``SEED_DEMO``.
    role : str | None
        The role of a viewer who has not signed in; ``DEFAULT_ROLE``. Unset
        (the default) means sign-in is required (``/login``); set it only for a
        kiosk, a demo or the tests (``command``, ``wall`` …).
    default_village : str | None
        The village of that viewer when ``role`` is ``village``; ``DEFAULT_VILLAGE``.
    secret_key : str | None
        Signs the session cookie; ``SECRET_KEY``. Unset: a key generated once
        and kept in ``secret_key`` next to the SQLite file (`township.config`),
        so every process of one deployment shares it.
    jobs_dir : Path
        Where long jobs (file imports) keep their progress; ``JOBS_DIR``.
    demo_feed : bool
        Run the demo feed beside the server (``python app.py`` only); ``DEMO_FEED``.
    feed_interval : float
        Mean seconds between two demo-feed events; ``FEED_INTERVAL``.
    inline_grids : int
        Up to this many level-3 grids, their geometry is in the dashboard page
        from the start; beyond it, it is sent with the first view of level 3
        (a city's 50,000 grids are megabytes); ``INLINE_GRIDS``. By default
        none: a page that opens on the villages draws sooner without outlines
        it does not show (the township's are a third of its figure).
    village_radius_km : float
        The largest radius of a warning a non-command role (a village token)
        may post (`township.domain.policy.warning_radius_cap`); command and
        admin are capped only by ingest's own limit; ``VILLAGE_WARNING_RADIUS_KM``.
    trusted_proxies : int
        How many reverse proxies stand in front of the app (nginx: 1);
        ``TRUSTED_PROXIES``. Their ``X-Forwarded-For``/``-Proto``/``-Host`` are
        believed for that many hops: the client address the throttle counts and
        whether the request came over HTTPS (the cookie is then ``Secure``).
        0 (the default) believes no such header.
    wall_frame_ancestors : str
        Who may show the wall (``/wall``) in a frame, a CSP ``frame-ancestors``
        source list (e.g. ``'self' https://screen.example``);
        ``WALL_FRAME_ANCESTORS``. Default ``'none'``; every other page is never framed.
    login_user_failures, login_address_failures : int
        Wrong passwords allowed per username and per client address within
        ``login_window_s`` before sign-in waits (HTTP 429, ``Retry-After``);
        ``LOGIN_USER_FAILURES``, ``LOGIN_ADDRESS_FAILURES``.
    login_window_s : float
        The throttle's window in seconds; ``LOGIN_WINDOW_S``.
    sla : SlaConfig
        The deadlines (``SLA_*``, see `township.domain.sla`), read here once:
        ingest sets a new case's deadline with them and the workflow its
        escalations' (the one configuration the whole app uses).
    notify : NotifyConfig
        How notifications are delivered (``NOTIFY_*``, ``SMS_*``).
    revisit_reopen_days : float
        回访: a resident's 不满意 within this many days of 办结 (the case's
        ``resolved_at``; the limit itself included) reopens the case (返工);
        ``REVISIT_REOPEN_DAYS``.
    report_address_limit, report_phone_limit : int
        Reports and follows from ``/report`` allowed per client address and
        per phone within ``report_window_s`` (then 429, ``Retry-After``);
        ``REPORT_ADDRESS_LIMIT``, ``REPORT_PHONE_LIMIT``.
    report_window_s : float
        Their window in seconds; ``REPORT_WINDOW_S``.
    report_min_age_s : float
        How old the ``/report`` form's signed token must be before it is sent
        (a person reads and types; a script posts at once); ``REPORT_MIN_AGE_S``.
    report_pow_bits : int
        Leading zero bits of the proof of work the page computes
        (16: about half a second on a phone); ``REPORT_POW_BITS``.
    photos_dir : Path | None
        Where case photos are kept, by content hash (`township.loop.photos`); ``PHOTOS_DIR``.
        Unset: ``photos/`` next to the SQLite file (under ``var/`` of the project for
        another database), see :func:`photos_path`.
    photo_max_bytes : int
        Largest photo file accepted, checked before it is decoded; ``PHOTO_MAX_BYTES`` (15 MB).
    photo_max_pixels : int
        Largest width × height accepted (a decompression bomb is refused from its
        header); ``PHOTO_MAX_PIXELS`` (50 million).
    photos_per_case : int
        How many photos one case may hold; ``PHOTOS_PER_CASE`` (6).
    photos_per_request : int
        How many photos one upload may carry; ``PHOTOS_PER_REQUEST`` (3).
    field_photo_types : frozenset of str
        Case types whose 办结 (resolve) from the field app needs a photo of the
        result (`township.loop.fieldwork`); ``FIELD_PHOTO_REQUIRED``, a comma list
        of case type codes (default ``hazard``; empty: none).
    """

    database_url: str = f"sqlite:///{ROOT / 'var' / 'township.db'}"
    grids_file: Path = BUNDLED_GRIDS
    grids_crs: str | None = None
    resources_file: Path = BUNDLED_RESOURCES
    host: str = "127.0.0.1"
    port: int = 8050
    tile_url: str | None = None
    tile_attribution: str = ""
    seed_demo: bool = True
    role: str | None = None
    default_village: str | None = None
    secret_key: str | None = None
    jobs_dir: Path = ROOT / "var" / "jobs"
    demo_feed: bool = False
    feed_interval: float = 30.0
    inline_grids: int = 0
    village_radius_km: float = 20.0
    trusted_proxies: int = 0
    wall_frame_ancestors: str = "'none'"
    login_user_failures: int = 5
    login_address_failures: int = 30
    login_window_s: float = 900.0
    sla: SlaConfig = DEFAULT_SLA
    notify: NotifyConfig = NotifyConfig()
    revisit_reopen_days: float = 7.0
    report_address_limit: int = 10
    report_phone_limit: int = 5
    report_window_s: float = 3600.0
    report_min_age_s: float = 3.0
    report_pow_bits: int = 16
    photos_dir: Path | None = None
    photo_max_bytes: int = 15 * 1024 * 1024
    photo_max_pixels: int = 50_000_000
    photos_per_case: int = 6
    photos_per_request: int = 3
    field_photo_types: frozenset[str] = frozenset({"hazard"})

    def __post_init__(self) -> None:
        unknown_types = sorted(self.field_photo_types - set(CASE_TYPES))
        if unknown_types:
            raise ValueError(f"FIELD_PHOTO_REQUIRED names unknown case types {', '.join(unknown_types)}; "
                             f"allowed: {', '.join(CASE_TYPES)}")
        # A mistyped DEFAULT_ROLE must stop the start, not silently show an anonymous (masked) page.
        if self.role is not None:
            check_role(self.role, "DEFAULT_ROLE")
        if (self.role == "village") != bool(self.default_village):
            raise ValueError("DEFAULT_ROLE=village needs DEFAULT_VILLAGE (e.g. DL-03), and only it takes one")
        if self.trusted_proxies < 0:
            raise ValueError(f"TRUSTED_PROXIES must be 0 or more (proxies in front), not {self.trusted_proxies}")
        for name, value in (("LOGIN_USER_FAILURES", self.login_user_failures),
                            ("LOGIN_ADDRESS_FAILURES", self.login_address_failures),
                            ("LOGIN_WINDOW_S", self.login_window_s)):
            if not value > 0:
                raise ValueError(f"{name} must be more than 0, not {value}")
        for name, value in (("PHOTO_MAX_BYTES", self.photo_max_bytes), ("PHOTO_MAX_PIXELS", self.photo_max_pixels),
                            ("PHOTOS_PER_CASE", self.photos_per_case),
                            ("PHOTOS_PER_REQUEST", self.photos_per_request)):
            if not value > 0:
                raise ValueError(f"{name} must be more than 0, not {value}")
        # The value goes into a response header: a line break there would split it.
        if not self.wall_frame_ancestors.strip() or any(c in self.wall_frame_ancestors for c in "\r\n;,"):
            raise ValueError("WALL_FRAME_ANCESTORS must be one CSP source list, e.g. 'self' https://screen.example")
        for name, value in (("REVISIT_REOPEN_DAYS", self.revisit_reopen_days),
                            ("REPORT_ADDRESS_LIMIT", self.report_address_limit),
                            ("REPORT_PHONE_LIMIT", self.report_phone_limit), ("REPORT_WINDOW_S", self.report_window_s)):
            if not value > 0:
                raise ValueError(f"{name} must be more than 0, not {value}")
        if self.report_min_age_s < 0 or not 0 <= self.report_pow_bits <= 32:
            raise ValueError("REPORT_MIN_AGE_S must be 0 or more and REPORT_POW_BITS between 0 and 32")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Build settings from environment variables (``os.environ`` by default)."""
        env = dict(os.environ if env is None else env)
        base = cls()
        return cls(
            database_url=env.get("DATABASE_URL", base.database_url),
            grids_file=Path(env.get("GRIDS_FILE", base.grids_file)),
            grids_crs=env.get("GRIDS_CRS") or None,
            resources_file=Path(env.get("RESOURCES_FILE", base.resources_file)),
            host=env.get("HOST", base.host),
            port=int(env.get("PORT", base.port)),
            tile_url=env.get("TILE_URL") or None,
            tile_attribution=env.get("TILE_ATTRIBUTION", ""),
            seed_demo=env.get("SEED_DEMO", "1") not in ("0", "false", "no"),
            role=env.get("DEFAULT_ROLE") or None,
            default_village=env.get("DEFAULT_VILLAGE") or None,
            secret_key=env.get("SECRET_KEY") or None,
            jobs_dir=Path(env.get("JOBS_DIR", base.jobs_dir)),
            demo_feed=env.get("DEMO_FEED", "0") in ("1", "true", "yes"),
            feed_interval=float(env.get("FEED_INTERVAL", base.feed_interval)),
            inline_grids=int(env.get("INLINE_GRIDS", base.inline_grids)),
            village_radius_km=float(env.get("VILLAGE_WARNING_RADIUS_KM", base.village_radius_km)),
            trusted_proxies=int(env.get("TRUSTED_PROXIES", base.trusted_proxies)),
            wall_frame_ancestors=env.get("WALL_FRAME_ANCESTORS") or base.wall_frame_ancestors,
            login_user_failures=int(env.get("LOGIN_USER_FAILURES", base.login_user_failures)),
            login_address_failures=int(env.get("LOGIN_ADDRESS_FAILURES", base.login_address_failures)),
            login_window_s=float(env.get("LOGIN_WINDOW_S", base.login_window_s)),
            sla=SlaConfig.from_env(env),
            notify=NotifyConfig.from_env(env),
            revisit_reopen_days=float(env.get("REVISIT_REOPEN_DAYS", base.revisit_reopen_days)),
            report_address_limit=int(env.get("REPORT_ADDRESS_LIMIT", base.report_address_limit)),
            report_phone_limit=int(env.get("REPORT_PHONE_LIMIT", base.report_phone_limit)),
            report_window_s=float(env.get("REPORT_WINDOW_S", base.report_window_s)),
            report_min_age_s=float(env.get("REPORT_MIN_AGE_S", base.report_min_age_s)),
            report_pow_bits=int(env.get("REPORT_POW_BITS", base.report_pow_bits)),
            photos_dir=Path(env["PHOTOS_DIR"]) if env.get("PHOTOS_DIR") else None,
            photo_max_bytes=int(env.get("PHOTO_MAX_BYTES", base.photo_max_bytes)),
            photo_max_pixels=int(env.get("PHOTO_MAX_PIXELS", base.photo_max_pixels)),
            photos_per_case=int(env.get("PHOTOS_PER_CASE", base.photos_per_case)),
            photos_per_request=int(env.get("PHOTOS_PER_REQUEST", base.photos_per_request)),
            field_photo_types=frozenset(t.strip() for t in env.get("FIELD_PHOTO_REQUIRED", "hazard").split(",")
                                        if t.strip()),
        )


# The key that signs the sign-in cookie: ``SECRET_KEY``, or one generated once and kept in a file.
# Several app processes (gunicorn workers, a restart) must accept each other's cookies, so the
# generated key is written once, next to the SQLite file (``var/secret_key`` by default; under
# ``var/`` of the project for another database), readable by its owner only.

#: The file's name, in the folder of the SQLite file.
SECRET_FILE = "secret_key"


def secret_path(settings: Settings) -> Path:
    """Where the generated key is kept for ``settings``' store."""
    url = settings.database_url
    folder = Path(url.removeprefix("sqlite:///")).parent if url.startswith("sqlite:///") else ROOT / "var"
    return folder / SECRET_FILE


def photos_path(settings: Settings) -> Path:
    """Where ``settings``' case photos are kept: ``PHOTOS_DIR``, else ``photos/`` beside the SQLite file.

    Beside the store, so that each store (a test's, a deployment's) has its own photos and a
    backup of the store's folder takes them along.
    """
    if settings.photos_dir is not None:
        return settings.photos_dir
    return secret_path(settings).parent / "photos"


def session_secret(settings: Settings) -> bytes:
    """The signing key: ``settings.secret_key``, else the kept file's, made on first use.

    Two processes starting at once agree: the key is written to a temporary
    file and linked into place, which fails for the second, which then reads
    the first one's key.
    """
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = secret_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path} holds no usable key (under 32 characters); delete it to make a new one")
    return key.encode("utf-8")
