"""The inspection service: the API in-process (Flask's test client) for answers and errors, then the real server
command (`defectlab serve`, gunicorn, two workers) for parallel requests and the web page in headless Chromium."""
import base64
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from parity import assert_same_boxes, assert_same_records, strong_floor
from PIL import Image

from shared.suite import registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs(generic_runs):
    return {name: generic_runs(name)[0].path for name in registry.TASKS}


@pytest.fixture(scope="module")
def picture(synthetic_root) -> Path:
    return min((synthetic_root / "NEU-DET" / "IMAGES").glob("patches_1*.jpg"))


@pytest.fixture(scope="module")
def client(runs):
    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings(runs={t: str(p) for t, p in runs.items()}, max_upload_mb=1))
    return app.test_client()


def post(client, data: bytes, name="p.jpg", query="", **extra):
    return client.post(f"/v1/inspect{query}", data={"image": (io.BytesIO(data), name), **extra},
                       content_type="multipart/form-data")


def png(array: np.ndarray, mode=None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_inspect_answers_what_the_suite_inspector_answers(client, runs, picture):
    from shared.suite.inspect import Inspector

    answer = post(client, picture.read_bytes(), picture.name, "?heatmap=1")
    assert answer.status_code == 200, answer.json
    body = answer.json
    expected = Inspector.from_runs(runs, batch_size=1).inspect([picture])[0]
    for task in registry.TASKS:
        assert_same_records({k: v for k, v in expected[task].items() if k != "image"},
                            {k: v for k, v in body[task].items() if k != "heatmap_png"}, rel=1e-4)
    assert body["novel"] == expected["novel"] and set(body["models"]) == set(registry.TASKS)
    heatmap = Image.open(io.BytesIO(base64.b64decode(body["anomaly"]["heatmap_png"])))
    assert heatmap.size == Image.open(picture).size  # drawn at the picture's own resolution
    assert {"decode", "total", *registry.TASKS} <= set(body["timings_ms"])
    raw = client.post("/v1/inspect", data=picture.read_bytes(), content_type="image/jpeg")
    assert raw.status_code == 200 and raw.json["classification"] == body["classification"]


def test_tasks_and_conf_per_request(client, picture):
    only = post(client, picture.read_bytes(), query="?tasks=classify").json
    assert "classification" in only and "detection" not in only and "anomaly" not in only and "novel" not in only
    low = post(client, picture.read_bytes(), query="?tasks=detect&conf=0.001").json["detection"]["boxes"]
    high = post(client, picture.read_bytes(), query="?tasks=detect&conf=0.9").json["detection"]["boxes"]
    assert len(low) >= len(high) and all(b["confidence"] >= 0.9 for b in high)
    again = post(client, picture.read_bytes(), query="?tasks=detect").json["detection"]["boxes"]
    assert all(b["confidence"] >= 0.25 for b in again)  # the per-request conf did not stick
    assert post(client, picture.read_bytes(), query="?tasks=paint").status_code == 400
    assert post(client, picture.read_bytes(), query="?conf=high").status_code == 400
    misspelt = post(client, picture.read_bytes(), query="?conff=0.3")
    assert misspelt.status_code == 400 and "'conff'" in misspelt.json["error"]


def test_request_options_change_a_view_never_the_served_predictor(client, picture):
    """A request's option reaches its answer through a view of the served predictor: a request with none answers
    what the first one did. Spelt as the option's plain name, TASK.OPTION or the task's alias (TASK.OPTION wins),
    in the query or as a form field, parsed as the command line parses TASK.OPTION=VALUE."""
    jpeg = picture.read_bytes()
    served = client.application.extensions["defectlab"].predictors
    default = post(client, jpeg, query="?tasks=detection").json["detection"]
    low = post(client, jpeg, query="?tasks=detect&conf=0.001").json["detection"]
    assert len(low["boxes"]) > len(default["boxes"]) and served["detection"].conf == 0.25
    assert post(client, jpeg, query="?tasks=detection").json["detection"] == default  # the option did not stick
    for query in ("?conf=0.001", "?detection.conf=0.001", "?detect.conf=0.001", "?conf=0.9&detection.conf=0.001"):
        assert post(client, jpeg, query=f"{query}&tasks=detect").json["detection"] == low, query
    assert post(client, jpeg, query="?tasks=detection", conf="0.001").json["detection"] == low  # a form field
    assert post(client, jpeg, query="?tasks=detection").json["detection"] == default
    on = post(client, jpeg, query="?tasks=anomaly&anomaly.heatmap=true").json["anomaly"]
    off = post(client, jpeg, query="?tasks=anomaly", heatmap="no").json["anomaly"]
    assert "heatmap_png" in on and "heatmap_png" not in off and not served["anomaly"].heatmap
    assert post(client, jpeg, query="?classify.tta=1&tasks=classification").status_code == 200
    assert not served["classification"].tta

    def refused(query, **form):
        answer = post(client, jpeg, query=query, **form)
        assert answer.status_code == 400 and answer.json["error"].count("\n") == 0, answer.json
        return answer.json["error"]

    assert refused("?detect.conf=high").startswith("detect.conf: cannot use 'high'")
    assert refused("?heatmap=2").startswith("heatmap: cannot use '2'")
    assert refused("?conf=2").startswith("conf: 2.0 is outside 0..1")  # the option's bounds
    assert "--predict detection.border=" in refused("?detection.border=0")  # an option of the start, not a request
    assert "'detection.conff'" in refused("?detection.conff=0.3") and "detection.conf" in refused("?x=1")
    assert "given 2 times" in refused("?conf=0.3", conf="0.4")  # in the query and the form
    assert "the same option" in refused("?detect.conf=0.3&detection.conf=0.4")


def test_the_api_description_follows_the_loaded_tasks(runs):
    from service.app import create_app
    from service.openapi import served_spec
    from service.settings import Settings

    client = create_app(Settings(runs={t: str(p) for t, p in runs.items()}, tasks=("detection",),
                                 predict=("detection.conf=0.5",))).test_client()
    operation = client.get("/openapi.json").json["paths"]["/v1/inspect"]["post"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {"tasks", "conf", "detection.conf"}
    assert parameters["conf"]["schema"] == {"type": "number", "default": 0.5, "minimum": 0, "maximum": 1}  # served
    pattern = parameters["tasks"]["schema"]["pattern"]
    assert "detect" in pattern and "anomaly" not in pattern
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert answer["detection"] == registry.task("detection").record_schema and "anomaly" not in answer
    assert set(served_spec(False)["paths"]["/v1/inspect"]["post"]["responses"]["200"]["content"]["application/json"]
               ["schema"]["properties"]) >= set(registry.names())
    picture = np.zeros((32, 32, 3), np.uint8)
    refused = post(client, png(picture), query="?heatmap=1")  # no loaded task takes it
    assert refused.status_code == 400 and refused.json["error"].startswith("unknown field 'heatmap'")
    assert "anomaly is not loaded" in post(client, png(picture), query="?anomaly.heatmap=1").json["error"]
    assert post(client, png(picture), query="?tasks=anomaly").json["error"] == "tasks: anomaly not loaded by this " \
                                                                               "service"


@pytest.mark.parametrize("case", ["not-an-image", "truncated", "empty", "bomb", "wrong-type", "missing-field",
                                  "too-big", "many-parts"])
def test_bad_requests_get_a_json_error_and_the_service_goes_on(client, picture, case):
    jpeg = picture.read_bytes()
    if case == "not-an-image":
        answer, status = post(client, b"%PDF-1.4 not a picture", "doc.pdf"), 422
    elif case == "truncated":
        answer, status = post(client, jpeg[:200], "cut.jpg"), 422
    elif case == "empty":
        answer, status = post(client, b"", "empty.jpg"), 400
    elif case == "bomb":  # a 1-bit picture that claims far more pixels than Pillow's limit
        big = Image.new("1", (20000, 10000))
        buffer = io.BytesIO()
        big.save(buffer, format="PNG")
        answer, status = post(client, buffer.getvalue(), "bomb.png"), 422
    elif case == "wrong-type":
        answer, status = client.post("/v1/inspect", data=jpeg, content_type="text/plain"), 415
    elif case == "missing-field":
        answer, status = client.post("/v1/inspect", data={"picture": (io.BytesIO(jpeg), "p.jpg")},
                                     content_type="multipart/form-data"), 400
    elif case == "many-parts":  # a small body of many tiny fields: refused for what it is, not for its size
        answer, status = post(client, jpeg, **{f"f{i}": "x" for i in range(2000)}), 413
        assert "parts" in answer.json["error"] and "larger than" not in answer.json["error"]
    else:
        answer, status = post(client, b"\0" * (2 * 2**20), "huge.jpg"), 413
        assert "larger than 1 MB" in answer.json["error"]
    assert answer.status_code == status and isinstance(answer.json["error"], str) and answer.json["error"]
    if case in ("not-an-image", "truncated", "bomb"):
        assert answer.json["error"].count("\n") == 0 and ("cannot decode" in answer.json["error"]
                                                          or "too large" in answer.json["error"])
    assert post(client, jpeg).status_code == 200  # still up


@pytest.mark.parametrize("kind", ["16-bit", "rgba", "1x1", "gray", "large"])
def test_unusual_but_valid_pictures_are_inspected(client, kind):
    rng = np.random.default_rng(0)
    data = {"16-bit": lambda: png(rng.integers(0, 65535, (120, 90), dtype=np.uint16)),
            "rgba": lambda: png(rng.integers(0, 255, (64, 64, 4), dtype=np.uint8), "RGBA"),
            "1x1": lambda: png(np.full((1, 1, 3), 128, np.uint8)),
            "gray": lambda: png(rng.integers(0, 255, (200, 200), dtype=np.uint8)),
            "large": lambda: png(np.tile(np.arange(1200, dtype=np.uint8), (1500, 1)))}[kind]()  # 1.8 Mpx, small file
    answer = post(client, data, f"{kind}.png")
    assert answer.status_code == 200, answer.json
    assert {"classification", "detection", "anomaly"} <= set(answer.json)


def test_models_health_metrics_and_the_api_description(client):
    from service.openapi import SPEC

    assert client.get("/healthz").json["status"] == "ok" and client.get("/readyz").status_code == 200
    models = client.get("/v1/models").json["models"]
    assert {m["task"] for m in models} == set(registry.TASKS)
    anomaly = next(m for m in models if m["task"] == "anomaly")
    assert anomaly["threshold"] > 0 and anomaly["provenance"]["data_fingerprint"] and anomaly["image_size"] > 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'defectlab_requests_total{route="/v1/inspect",status="200"}' in metrics
    assert "defectlab_request_seconds_bucket" in metrics and "defectlab_request_errors_total" in metrics
    routes = {r.rule for r in client.application.url_map.iter_rules() if r.endpoint != "static"}
    assert routes == set(SPEC["paths"])
    assert client.get("/").status_code == 200
    wrong_method = client.put("/healthz")
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"] and wrong_method.json["error"]


def test_an_api_key_guards_every_route_but_the_health_checks(runs, picture):
    from service.app import create_app
    from service.settings import Settings

    guarded = create_app(Settings(runs={t: str(p) for t, p in runs.items()}, tasks=("classification",),
                                  api_key="s3cret")).test_client()
    assert guarded.get("/healthz").status_code == 200 and guarded.get("/readyz").status_code == 200
    assert guarded.get("/openapi.json").json["security"] == [{"bearer": []}]  # open, and says what the rest want
    assert guarded.get("/v1/models").status_code == 401 and guarded.get("/metrics").status_code == 401
    assert post(guarded, picture.read_bytes()).status_code == 401
    wrong = guarded.get("/v1/models", headers={"Authorization": "Bearer nope"})
    right = guarded.get("/v1/models", headers={"Authorization": "Bearer s3cret"})
    assert wrong.status_code == 401 and "API key" in wrong.json["error"] and right.status_code == 200


def test_settings_come_from_the_environment():
    from service.settings import Settings

    s = Settings.from_env({"DEFECTLAB_RUNS": "detection=/r/d,anomaly=/r/a", "DEFECTLAB_TASKS": "detection,anomaly",
                           "DEFECTLAB_API_KEY": "k", "DEFECTLAB_MAX_UPLOAD_MB": "2.5", "DEFECTLAB_ONNX": "1",
                           "DEFECTLAB_PREDICT": "detection.tta=1  'detection.fuse_with=/r/my runs/e,/r/f'"})
    assert s.runs == {"detection": "/r/d", "anomaly": "/r/a"} and s.tasks == ("detection", "anomaly")
    assert s.predict == ("detection.tta=1", "detection.fuse_with=/r/my runs/e,/r/f")
    assert s.api_key == "k" and s.max_upload_mb == 2.5 and s.onnx
    with pytest.raises(ValueError, match="unknown task"):
        Settings.from_env({"DEFECTLAB_TASKS": "classify"})


def test_a_fused_detector_is_served_and_named(generic_runs, partner, picture):
    """Prediction options reach the served predictor: two detectors fused with TTA answer what the predictor built
    with the same options answers (not what the run alone answers), and the record and /v1/models name both runs."""
    from service.app import create_app
    from service.settings import Settings

    detector = generic_runs("detection")[0].path  # the only run these need
    given = (f"detection.fuse_with={partner}", "detection.tta=1", "detection.conf=0.0001")
    client = create_app(Settings(runs={"detection": str(detector)}, tasks=("detection",),
                                 predict=given)).test_client()
    body = post(client, picture.read_bytes(), picture.name).json
    run = registry.task("detection").load(detector)
    expected = run.predictor(conf=1e-4, tta=True, fuse_with=str(partner)).predict([picture])[0]["boxes"]
    assert expected != run.predictor(conf=1e-4, tta=True).predict([picture])[0]["boxes"]
    assert len(expected) > 0
    assert assert_same_boxes(expected, body["detection"]["boxes"], min_conf=strong_floor(expected), conf_atol=1e-4) > 0
    name = f"{Path(detector).name}+nudged"
    assert body["models"] == {"detection": name}
    described = client.get("/v1/models").json["models"][0]
    assert described["run"] == name and described["predict_options"] == {
        "fuse_with": str(partner), "tta": True, "conf": 1e-4}
    with pytest.raises(ValueError, match=r"detection.heat: unknown option; this takes conf"):
        create_app(Settings(runs={"detection": str(detector)}, tasks=("detection",),
                            predict=("detection.heat=1",)))


def test_serve_checks_partner_runs_exports_them_and_hands_the_options_to_its_workers(generic_runs, partner, tmp_path,
                                                                                      monkeypatch, capsys):
    """`defectlab serve` with a fused detector: a missing partner fails in one line before any worker starts; with
    --onnx the partner is exported first; the workers read back the options as given, a path with a space included."""
    from service.settings import Settings
    from shared.suite.cli import main

    detector = generic_runs("detection")[0].path
    spaced = Path(shutil.copytree(partner, tmp_path / "my runs" / "nudged"))
    started = []
    monkeypatch.setattr(os, "environ", dict(os.environ))  # run_serve writes the workers' settings here
    monkeypatch.setattr(os, "execv", lambda *command: started.append(command))  # instead of starting gunicorn
    serve = ["serve", "--tasks", "detection", "--runs", f"detection={detector}", "detection.tta=1"]  # a bare word
    assert main([*serve, "--predict", f"detection.fuse_with={tmp_path / 'missing'}"]) == 2
    assert "no detection run here" in capsys.readouterr().err and not started
    assert main([*serve, "--onnx", "--predict", f"detection.fuse_with={spaced}"]) == 0 and started
    assert (spaced / "model.onnx").is_file()
    assert Settings.from_env(os.environ).predict == ("detection.tta=1", f"detection.fuse_with={spaced}")
    # a container sets the runs through the environment alone: `serve` without flags takes them
    os.environ.update({"DEFECTLAB_RUNS": f"detection={detector}", "DEFECTLAB_TASKS": "detection", "DEFECTLAB_PREDICT": ""})
    started.clear()
    assert main(["serve"]) == 0 and started
    settings = Settings.from_env(os.environ)
    assert settings.runs == {"detection": str(Path(detector).resolve())} and settings.tasks == ("detection",)


# --- the real server command ------------------------------------------------------------------------------------

SERVE = ["defectlab", "serve", "--onnx"]  # Dockerfile's CMD starts the same command (test below)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def knn_run(classification_data, tmp_path_factory):
    """A texture-knn anomaly run (the smoke anomaly run is PatchCore, which has no ONNX export)."""
    from anomaly import task

    recipe = task.Recipe.from_preset("demo", data=str(classification_data), image_size=64,
                                     out=str(tmp_path_factory.mktemp("knn")), name="knn")
    return task.train(recipe, progress=False).path


@pytest.fixture(scope="module")
def server(runs, knn_run, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    copies = tmp_path_factory.mktemp("served")  # --onnx exports into the run folders: copies, not the shared runs
    runs = {t: shutil.copytree(p, copies / t) for t, p in runs.items() if t != "anomaly"}
    runs["anomaly"] = knn_run
    command = [*SERVE, "--workers", "2", "--port", str(port), "--runs", *[f"{t}={p}" for t, p in runs.items()]]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"defectlab serve exited: {log.read_text()[-2000:]}")
            time.sleep(1)
    else:
        os.killpg(process.pid, signal.SIGTERM)
        pytest.fail(f"defectlab serve not ready in 240 s: {log.read_text()[-2000:]}")
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def http_inspect(url: str, data: bytes, query: str = "") -> tuple[int, dict]:
    request = urllib.request.Request(f"{url}/v1/inspect{query}", data=data, headers={"Content-Type": "image/jpeg"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_parallel_requests_get_the_sequential_answers(server, synthetic_root):
    pictures = [p.read_bytes() for p in sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("*_2*.jpg"))[:12]]
    sequential = [http_inspect(server, p) for p in pictures]
    with ThreadPoolExecutor(6) as pool:
        parallel = list(pool.map(lambda p: http_inspect(server, p), pictures * 2))
    assert all(status == 200 for status, _ in sequential + parallel)
    for k, (_, body) in enumerate(parallel):  # either worker process, any thread count: the same answer
        alone = sequential[k % len(pictures)][1]
        assert body.keys() == alone.keys() and body["novel"] == alone["novel"] and body["models"] == alone["models"]
        for task in registry.TASKS:
            assert_same_records(alone[task], body[task], rel=1e-4)
    assert http_inspect(server, b"not a picture")[0] == 422 and http_inspect(server, pictures[0])[0] == 200
    with urllib.request.urlopen(f"{server}/metrics") as answer:
        text = answer.read().decode()
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith('defectlab_requests_total{route="/v1/inspect",status="200"}'))
    assert counted >= 3 * len(pictures) + 1  # summed over both worker processes


def test_slow_clients_do_not_hold_up_a_good_request(server, picture):
    """Clients that send their headers a line at a time hold a coroutine each, not the models: a good request is
    answered while they trickle (a worker that reads requests one at a time would wait for them)."""
    host, port = server.removeprefix("http://").split(":")
    slow = []
    for _ in range(24):  # more than the two workers' cores and threads
        sock = socket.create_connection((host, int(port)), timeout=30)
        sock.sendall(b"POST /v1/inspect HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)
    try:
        for sock in slow:
            sock.sendall(b"X-Slow: 1\r\n")  # still talking, never finishing
        started = time.monotonic()
        status, _ = http_inspect(server, picture.read_bytes())
        assert status == 200 and time.monotonic() - started < 20
    finally:
        for sock in slow:
            sock.close()


def test_connections_are_kept_alive_and_an_oversized_body_is_refused_before_it_is_sent(server, picture):
    import http.client

    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        answers = []
        for _ in range(3):
            connection.request("POST", "/v1/inspect", body=picture.read_bytes(), headers={"Content-Type": "image/jpeg"})
            answer = connection.getresponse()
            answers.append((answer.status, answer.getheader("Connection"), answer.read()))
            if _ == 0:
                first = connection.sock
        assert [a[0] for a in answers] == [200] * 3 and connection.sock is first  # one connection, three answers
        assert all((a[1] or "").lower() != "close" for a in answers)
    finally:
        connection.close()
    with socket.create_connection((host, int(port)), timeout=30) as sock:  # declares 50 MB, sends none of it
        sock.sendall(b"POST /v1/inspect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                     b"Content-Length: 52428800\r\n\r\n")
        head = sock.recv(4096).decode(errors="replace")
    assert head.startswith("HTTP/1.1 413") and "larger than 10 MB" in head


def chromium_driver():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("headless browser test needs Debian's chromium and chromium-driver (apt-get install chromium "
                    "chromium-driver; .ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_the_web_page_draws_the_answer_and_names_a_bad_file(server, picture, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chromium_driver()
    try:
        browser.get(server + "/")
        wait = WebDriverWait(browser, 60)
        browser.find_element(By.ID, "files").send_keys(str(picture))
        wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "canvas.boxes[data-drawn='1']")))
        result = browser.find_element(By.CSS_SELECTOR, ".result")
        assert picture.name in result.text and "class" in result.text and "anomaly score" in result.text
        assert browser.find_element(By.CSS_SELECTOR, "img.heatmap").get_attribute("src").startswith("data:image/png")
        drawn = browser.execute_script(
            "const c = document.querySelector('canvas.boxes'); const d = c.getContext('2d')"
            ".getImageData(0, 0, c.width, c.height).data; let s = 0; for (const v of d) s += v; return s;")
        assert drawn > 0  # the picture is on the canvas
        fit = browser.execute_script("return getComputedStyle(document.querySelector('canvas.boxes')).objectFit")
        assert fit == "contain"  # a picture of another shape is letterboxed in the square, not squashed
        bad = tmp_path / "notes.png"
        bad.write_text("this is text, not a picture")
        browser.find_element(By.ID, "files").send_keys(str(bad))
        error = wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, ".result .error")))
        assert error.text.count("notes.png") == 1 and "cannot decode image" in error.text
    finally:
        browser.quit()


def test_docker_builds_and_starts_the_service_as_the_readme_and_the_tests_do():
    dockerfile = (ROOT / "Dockerfile").read_text()
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    # every install step of `make venv` (after the venv is made) is a RUN step of the image, in the same order
    recipe = makefile.split("$(STAMP): ", 1)[1].split("touch $(STAMP)", 1)[0]
    make_steps = [line.strip().removeprefix("$(BIN)/") for line in recipe.splitlines()
                  if line.strip().startswith("$(BIN)/python -m")]
    docker_steps = [line.removeprefix("RUN ").strip() for line in dockerfile.splitlines()
                    if line.startswith("RUN python -m")]
    assert make_steps and docker_steps == make_steps
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    started = json.loads(cmd[len("CMD "):])
    assert started[:len(SERVE)] == SERVE and "--host" in started  # the command the server fixture starts
    assert " ".join(SERVE) in readme and "docker run" in readme
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile and "\nUSER " in dockerfile
    assert (ROOT / ".dockerignore").is_file() and "chromium-driver" in (ROOT / ".ci" / "run").read_text()
