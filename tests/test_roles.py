"""Roles and deadlines around the closed loop: settings, the session key, the viewer, the sweep, the CLI."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from auth import ANONYMOUS, current_viewer
from township.accounts.tokens import check_token, token_handler
from township.accounts.users import check_password
from township.config import ROOT, SECRET_FILE, Settings, session_secret
from township.domain.sla import SlaConfig
from township.formats.ingest import CaseIn, write_cases
from township.loop.sweeps import sweep_overdue
from township.runtime.bootstrap import open_township
from township.store.models import Case, CaseEvent, utcnow


@pytest.fixture(scope="module")
def ctx(stores):
    return open_township(Settings(database_url=stores.new("roles"), seed_demo=False))


def test_default_role_is_checked_at_start():
    assert Settings.from_env({}).role is None  # sign-in required by default
    assert Settings.from_env({"DEFAULT_ROLE": ""}).role is None
    assert Settings.from_env({"DEFAULT_ROLE": "command"}).role == "command"
    with pytest.raises(ValueError, match="DEFAULT_ROLE='boss'"):
        Settings.from_env({"DEFAULT_ROLE": "boss"})
    with pytest.raises(ValueError, match="DEFAULT_VILLAGE"):
        Settings.from_env({"DEFAULT_ROLE": "village"})
    assert Settings.from_env({"DEFAULT_ROLE": "village", "DEFAULT_VILLAGE": "DL-03"}).default_village == "DL-03"


def test_the_session_key_is_made_once_and_shared(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a' / 'township.db'}")
    first = session_secret(settings)
    assert len(first) >= 32 and session_secret(settings) == first  # a second process reads the same
    path = tmp_path / "a" / SECRET_FILE
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert session_secret(replace(settings, secret_key="from-the-environment-0123456789abcdef")) == \
        b"from-the-environment-0123456789abcdef"


def test_the_viewer_outside_a_request(ctx):
    # Nobody signed in and no DEFAULT_ROLE: the wall's masked view, which may do nothing.
    assert current_viewer(ctx) == ANONYMOUS and ANONYMOUS.role == "wall"
    kiosk = replace(ctx, settings=replace(ctx.settings, role="village", default_village="DL-02"))
    viewer = current_viewer(kiosk)
    assert (viewer.role, viewer.village_id) == ("village", "DL-02") and "免登录" in viewer.name


def test_the_sweep_escalates_overdue_cases_once_per_missed_deadline(ctx):
    gs = ctx.township.gridset
    p = gs.geometry("DL-06-01").representative_point()
    long_ago = utcnow() - timedelta(days=5)
    [late] = write_cases(ctx.township.engine, gs, [CaseIn(source="patrol", type="hazard", domain="safety",
                                                          title="超期隐患", lon=p.x, lat=p.y, reported_at=long_ago)])
    stop = threading.Event()
    stop.set()  # one sweep, then stop
    sweep_overdue(ctx.township.engine, stop, sla=SlaConfig())  # auto-escalation off: nothing moves
    with Session(ctx.township.engine) as s:
        assert s.get(Case, late.id).tier == "grid"
    sweep_overdue(ctx.township.engine, stop, sla=SlaConfig(auto_escalate=True))
    sweep_overdue(ctx.township.engine, stop, sla=SlaConfig(auto_escalate=True))  # the new tier has its own time
    with Session(ctx.township.engine) as s:
        case = s.get(Case, late.id)
        assert case.tier == "village" and case.deadline_at > utcnow()
        last = s.query(CaseEvent).filter_by(case_id=late.id).order_by(CaseEvent.id.desc()).first()
        assert last.action == "escalate" and last.actor == "超期自动升级"


def _cli(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("SLA_AUTO_ESCALATE", None)
    return subprocess.run([sys.executable, "-m", "township", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_cli_makes_users_and_handler_tokens_and_sweeps(ctx):
    url = ctx.settings.database_url
    r = _cli(url, "user", "dl03", "--role", "village", "--village", "DL-03", "--name", "常树梁村值班员",
             stdin="a-long-password\n")
    assert r.returncode == 0, r.stderr
    user = check_password(ctx.township.engine, "dl03", "a-long-password")
    assert user is not None and (user.role, user.village_id) == ("village", "DL-03")
    assert _cli(url, "user", "dl03b", "--role", "village", stdin="a-long-password\n").returncode == 2  # no village

    r = _cli(url, "token", "phone-0301", "--role", "responder", "--handler", "H-OF-DL-03-01")
    assert r.returncode == 0, r.stderr
    token = check_token(ctx.township.engine, r.stdout.strip())
    assert token_handler(ctx.township.engine, token.id) == "H-OF-DL-03-01"
    assert _cli(url, "token", "phone-x", "--role", "command", "--handler", "H-OF-DL-03-01").returncode == 2

    r = _cli(url, "escalate")
    assert r.returncode == 0 and "SLA_AUTO_ESCALATE" in r.stderr
    r = _cli(url, "escalate", "--force")
    assert r.returncode == 0 and r.stdout.startswith("escalated ")
