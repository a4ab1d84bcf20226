"""An operator imports a hotline spreadsheet from the page and sees the report and the map change."""
from __future__ import annotations

from pathlib import Path

from test_browser import GRAPH, figure_value, open_map

DATA = Path(__file__).parent / "data"


def test_upload_gbk_hotline_csv(server, page):
    open_map(page, server.url + "/?window=all")
    before = figure_value(page, "gd.data[4].lon.length")
    page.locator("#desk-tab label").nth(1).click()  # the import is on the statistics and data page
    page.click("text=导入事件/预警文件")
    # the hotline export has no 来源 column: the operator names the source of the whole file
    page.click("#import-source")
    page.get_by_role("option", name="市长热线").click()
    page.set_input_files("#import-upload input[type=file]", str(DATA / "hotline_gbk.csv"))
    page.wait_for_function("() => document.querySelector('#import-report').innerText.length > 0", timeout=30000)
    report = page.inner_text("#import-report")
    assert "新增 6" in report and "拒绝 0" in report, report
    page.wait_for_function(f"() => document.querySelector('{GRAPH}').data[4].lon.length > {before}", timeout=5000)


def test_upload_with_bad_rows_stores_nothing_and_names_the_rows(server, page):
    open_map(page, server.url + "/?window=all")
    before = figure_value(page, "gd.data[4].lon.length")
    page.locator("#desk-tab label").nth(1).click()  # the import is on the statistics and data page
    page.click("text=导入事件/预警文件")
    page.set_input_files("#import-upload input[type=file]", str(DATA / "patrol_bad_rows.csv"))
    page.wait_for_function("() => document.querySelector('#import-report').innerText.length > 0", timeout=30000)
    report = page.inner_text("#import-report")
    assert "第" in report and "行" in report, report
    page.wait_for_timeout(1500)
    assert figure_value(page, "gd.data[4].lon.length") == before
