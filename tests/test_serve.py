"""`landmarks serve` end to end in headless Chromium (Debian's `chromium` + `chromium-driver`,
driven by Selenium; .ci/run installs both): upload an image and see its landmarks and the JSON
`landmarks detect` writes; drag a landmark and see the re-rendered image; animate a photo with
a video with the progress shown; bad uploads (not an image, too large, an undecodable video)
get a message and the server goes on."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from fixtures import write_image_folder, write_model_checkpoint, write_video
from landmarks.inference import Detector
from landmarks.serve import ServeState, make_server

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="chromium / chromedriver not installed: apt-get install chromium chromium-driver "
           "(.ci/run does) to run the browser test of landmarks serve")

LIMIT = 200_000  # bytes: the upload limit of this test's server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Path]]]:
    base = tmp_path_factory.mktemp("serve")
    images = write_image_folder(base / "images", 2, (40, 56))
    files = {"image": images[0], "video": write_video(base / "clip.mp4", 6, (48, 48)),
             "imm": write_model_checkpoint(base / "imm.pt", "imm"),
             "motion": write_model_checkpoint(base / "motion.pt", "motion")}
    (base / "notes.png").write_text("this is text, not a picture")
    (base / "broken.mp4").write_bytes(bytes(range(256)) * 8)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (400, 400, 3), np.uint8)).save(
        base / "big.png")
    assert (base / "big.png").stat().st_size > LIMIT
    files.update(text=base / "notes.png", broken=base / "broken.mp4", big=base / "big.png")
    (base / "work").mkdir()
    state = ServeState([(str(files[n]), Detector.load(files[n], device="cpu"))
                        for n in ("imm", "motion")], base / "work", max_bytes=LIMIT)
    server = make_server(state, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1000", "--no-first-run", "--disable-background-networking",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def _wait(driver: WebDriver, condition: Callable[[WebDriver], object],
          timeout: float = 60) -> object:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def _text(driver: WebDriver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def _upload(driver: WebDriver, path: Path, expect: str, where: str = "status") -> str:
    """Choose ``path`` in the file input; wait until #``where`` says ``expect``."""
    driver.find_element("id", "file").send_keys(str(path))
    _wait(driver, lambda d: expect in _text(d, where))
    return _text(driver, where)


def _select_model(driver: WebDriver, index: int) -> None:
    _wait(driver, lambda d: len(d.find_elements("css selector", "#model option")) == 2)
    Select(driver.find_element("id", "model")).select_by_value(str(index))


def test_detect_drag_and_bad_uploads(site: tuple[str, dict[str, Path]], browser: WebDriver
                                     ) -> None:
    url, files = site
    d = browser
    d.get(url)
    _select_model(d, 0)
    assert "renders" in _text(d, "modelinfo")
    _upload(d, files["image"], "detected 1 frame(s)")
    assert _text(d, "count").startswith("4 landmarks")
    # the JSON offered for download is what `landmarks detect` writes for the image
    link = d.find_element("id", "download")
    assert link.get_attribute("href").startswith("blob:")
    records = json.loads(d.execute_async_script(
        "const done = arguments[0]; fetch(document.getElementById('download').href)"
        ".then(r => r.text()).then(done);"))
    with Image.open(files["image"]) as im:
        frame = np.asarray(im.convert("RGB"))
    want = Detector.load(files["imm"], device="cpu").detect_frames([frame])[0]
    assert len(records) == 1 and records[0]["frame"] is None
    assert np.abs(np.array(records[0]["keypoints"]) - want).max() < 1e-4
    # drag a landmark by (12, 6) canvas pixels: the page re-renders the image
    canvas = d.find_element("id", "view")
    before = np.array(json.loads(canvas.get_attribute("data-points")))
    scale = d.execute_script("return document.getElementById('view').width") / frame.shape[1]
    assert scale == 4  # a small image is shown enlarged
    x, y = before[0]
    w, h = canvas.size["width"], canvas.size["height"]  # the border adds 1 px on each side
    ox, oy = 1 + (x + 0.5) * scale - w / 2, 1 + (y + 0.5) * scale - h / 2  # from the centre
    ActionChains(d).move_to_element_with_offset(canvas, round(ox), round(oy)).click_and_hold() \
        .move_by_offset(12, 6).release().perform()
    _wait(d, lambda dr: "re-rendered" in _text(dr, "status"))
    after = np.array(json.loads(canvas.get_attribute("data-points")))
    moved = np.abs(after - before).sum(axis=1) > 0
    assert moved.sum() == 1  # the landmark under the pointer (they may lie close together)
    shift = (after - before)[moved][0] * scale
    assert np.abs(shift - [12, 6]).max() < 2.0
    assert d.execute_script(
        "return document.getElementById('rendered').naturalWidth") == 32
    # bad uploads: a message each, and the page and server go on
    _upload(d, files["text"], "is not an image", "error")
    _upload(d, files["big"], "too large", "error")
    _upload(d, files["broken"], "could not be decoded", "error")
    with urllib.request.urlopen(f"{url}/api/models") as r:
        assert len(json.loads(r.read())) == 2
    _upload(d, files["image"], "detected 1 frame(s)")
    assert _text(d, "error") == ""


def test_video_and_animation_with_progress(site: tuple[str, dict[str, Path]], browser: WebDriver
                                           ) -> None:
    url, files = site
    d = browser
    d.get(url)
    _select_model(d, 1)
    assert "animates" in _text(d, "modelinfo")
    _upload(d, files["image"], "detected 1 frame(s)")
    _upload(d, files["video"], "detected 6 frame(s)")
    assert "on frame 0 of 6" in _text(d, "count")
    button = d.find_element("id", "animate")
    assert button.is_enabled()
    button.click()
    _wait(d, lambda dr: "done" in _text(dr, "job") or _text(dr, "error"))
    assert _text(d, "error") == "" and _text(d, "job") == "6 / 6 frames: done"
    assert d.execute_script(
        "const p = document.getElementById('progress'); return [p.value, p.max]") == [6, 6]
    href = d.find_element("id", "result").get_attribute("href")
    with urllib.request.urlopen(href) as r:
        video = Path(files["video"]).with_name("animated.mp4")
        video.write_bytes(r.read())
    with av.open(str(video)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 6
