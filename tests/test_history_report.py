"""The history report: self-contained HTML, loaded by a real headless Chromium.

Chromium is Debian's package (.ci/run installs it); Playwright only drives it
(``executable_path``), it downloads no browser. Without chromium the browser
tests skip locally and fail under CI.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from fascdetect.cli import main

NIGHTS = 5
SIM_ARGS = ["--duration", "1m", "--sides", "R", "--emg-regions", "ADM,AbH", "--acc-regions", "", "--no-progress"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("report")
    sim, db = d / "sim", d / "history.sqlite3"
    assert main(["simulate", "--nights", str(NIGHTS), "--start", "2026-03-02", "--out", str(sim), *SIM_ARGS]) == 0
    assert main(["history", "add", "--no-progress", "--db", str(db), *sorted(map(str, sim.glob("*.edf")))]) == 0
    assert main(["diary", "import", "--db", str(db), str(sim / "diary.tsv")]) == 0
    assert main(["diary", "add", "--db", str(db), "--date", "2026-03-05", "--symptom", "weakness"]) == 0
    out = d / "report.html"
    assert main(["report", "--db", str(db), "--out", str(out)]) == 0
    return out


def test_report_is_self_contained(report):
    html = report.read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html), "an external URL in the report"
    assert "@import" not in html and "@font-face" not in html
    assert not re.search(r"""\b(src|href)\s*=""", html), "the report loads or links something"
    assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", html)), "a CSS url() outside the page"
    assert "default-src 'none'" in html  # and the page forbids itself to fetch anything


def test_report_describes_and_never_diagnoses(report):
    text = re.sub(r"<[^>]+>", " ", report.read_text())
    assert "does not diagnose" in text and "names no disease" in text
    assert not re.search(r"\bALS\b|\bMND\b", text)
    for word in ("amyotrophic", "sclerosis", "motor neuron", "neurone disease", "syndrome", "you have"):
        assert word not in text.lower(), word
    assert "Worth showing a clinician" in text
    assert "You noted weakness" in text and "Talk to a clinician" in text


def test_report_range_and_detail_night(report, tmp_path, capsys):
    db = report.parent / "history.sqlite3"
    out = tmp_path / "r.html"
    assert main(["report", "--db", str(db), "--from", "2026-03-03", "--to", "2026-03-04", "--night", "2026-03-03",
                 "--out", str(out)]) == 0
    html = out.read_text()
    assert re.findall(r'<tr data-night="([^"]+)"', html) == ["2026-03-03", "2026-03-04"]
    assert "The night of 2026-03-03 in detail" in html
    capsys.readouterr()
    assert main(["report", "--db", str(db), "--night", "2026-04-01", "--out", str(out)]) == 2
    assert "no recording on the night of 2026-04-01" in capsys.readouterr().err
    assert main(["report", "--db", str(tmp_path / "none.sqlite3"), "--out", str(out)]) == 6


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs the Debian package")
        pytest.skip("chromium (Debian package) not installed")
    return path


def _non_white_fraction(png: bytes) -> float:
    from PySide6.QtGui import QImage

    img = QImage.fromData(png)
    assert not img.isNull()
    n = hit = 0
    for y in range(0, img.height(), 7):
        for x in range(0, img.width(), 7):
            n += 1
            hit += (img.pixel(x, y) & 0xFFFFFF) != 0xFFFFFF
    return hit / n


def test_report_in_a_real_browser(report, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            assert requests == [report.as_uri()], requests
            nights = page.locator("#nightly tbody tr td:first-child").all_inner_texts()
            assert nights == [f"2026-03-0{d}" for d in range(2, 2 + NIGHTS)]
            assert page.locator("#clinician li").count() >= 1
            assert page.locator("svg").count() >= 6
            png = page.screenshot(full_page=True)
            (tmp_path / "report.png").write_bytes(png)
            assert _non_white_fraction(png) > 0.03, "the screenshot is (nearly) blank"
            # printing: A4 width holds the page without a horizontal scrollbar, and the PDF has pages
            page.emulate_media(media="print")
            page.set_viewport_size({"width": 718, "height": 1000})  # A4 less 14 mm margins, in CSS px
            assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
            pdf = page.pdf(format="A4", print_background=True)
            assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2
        finally:
            browser.close()
