"""Anomaly detection: weights mapping, folder datasets, fit -> threshold -> metrics -> predict, protocols."""
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import network_blocked
from PIL import Image

from shared.suite.errors import DataError


def _texture(rng, size=48):
    return np.clip(rng.normal(128, 12, (size, size)), 0, 255)


def _blob_dataset(root, n_normal=40, n_test=10):
    """Normal: grain texture. Abnormal: the same texture with a dark square, masked."""
    rng = np.random.default_rng(0)
    for folder in ("normal/train", "normal/test", "abnormal", "masks"):
        (root / folder).mkdir(parents=True)
    for k in range(n_normal):
        Image.fromarray(_texture(rng).astype(np.uint8)).save(root / "normal/train" / f"n{k}.png")
    for k in range(n_test):
        Image.fromarray(_texture(rng).astype(np.uint8)).save(root / "normal/test" / f"t{k}.png")
        image, mask = _texture(rng), np.zeros((48, 48), np.uint8)
        y, x = rng.integers(4, 30, 2)
        image[y:y + 12, x:x + 12] -= 70
        mask[y:y + 12, x:x + 12] = 255
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / "abnormal" / f"a{k}.png")
        Image.fromarray(mask).save(root / "masks" / f"a{k}.png")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from anomaly import task

    data = _blob_dataset(tmp_path_factory.mktemp("blobs") / "data")
    with network_blocked():
        run = task.train(task.Recipe.from_preset("smoke", data=str(data), out=str(data.parent / "runs"), name="pc"),
                         progress=False)
        run.evaluate("test")
    return run


@pytest.fixture(scope="module")
def blob_run(trained):
    return trained.path


FAULTS = """
import ctypes, json, os, resource, sys
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE: 4 KiB faults whatever the machine's huge-page mode
def faults(n=20):  # minor page faults of n 8 MiB buffers, each written then freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        buffer = bytearray(8 << 20)
        del buffer
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
import anomaly.task, classification.task, detection.task
from shared.suite import console
from shared.suite.memory_guard import capped_mmap_threshold
imported = [os.environ.get('MALLOC_MMAP_THRESHOLD_'), os.environ.get('TF_CPP_MIN_LOG_LEVEL')]
console.setup()
if sys.argv[1] == 'setup':
    print(json.dumps([imported, [faults(), os.environ.get('MALLOC_MMAP_THRESHOLD_')]]))
else:  # a fresh heap: buffers freed before the cap would serve the capped ones
    with capped_mmap_threshold():
        inside = [faults(), os.environ.get('MALLOC_MMAP_THRESHOLD_')]
    print(json.dumps([inside, [faults(), os.environ.get('MALLOC_MMAP_THRESHOLD_')]]))
"""


def test_importing_changes_nothing_and_the_mmap_cap_stays_inside_its_scope():
    """PatchCore needs glibc's mmap threshold capped; everything else runs 1.5x slower under it (fresh pages for
    every large buffer), so console.setup() leaves it alone and the cap lifts when its block ends."""
    import json
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if k not in ("MALLOC_MMAP_THRESHOLD_", "TF_CPP_MIN_LOG_LEVEL")}

    def run(mode: str) -> list:
        done = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, env=env,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.splitlines()[-1])

    pages = 20 * (8 << 20) // 4096
    imported, setup = run("setup")
    assert imported == [None, None]
    assert setup[0] <= 0.2 * pages and setup[1] is None  # glibc's default: the buffers are reused
    inside, after = run("cap")
    assert inside[0] >= 0.9 * pages and inside[1] == "1048576"  # every buffer mmapped afresh
    assert after[0] <= 0.2 * pages and after[1] is None  # reused from the heap again


def test_bundled_imagenet_weights_land_in_the_feature_extractor():
    import torch

    from anomaly.models import create_model
    from anomaly.recipe import AnomalyRecipe
    from shared.pretrained import lite_weights_file, timm_lite_key

    raw = torch.load(lite_weights_file(), map_location="cpu", weights_only=True)
    imagenet = create_model(AnomalyRecipe.from_preset("patchcore")).feature_extractor.feature_extractor.state_dict()
    random = create_model(AnomalyRecipe.from_preset("patchcore", weights="random")).feature_extractor.feature_extractor.state_dict()
    key = "_blocks.5._depthwise_conv.weight"
    assert torch.equal(imagenet[timm_lite_key(key)], raw[key])
    assert not torch.equal(random[timm_lite_key(key)], raw[key])


def test_a_visible_defect_is_found_in_image_and_pixels(blob_run):
    metrics = json.loads((blob_run / "metrics.json").read_text())
    assert metrics["image_auroc"] >= 0.9 and metrics["pixel_auroc"] >= 0.85
    assert (metrics["normal_test"], metrics["abnormal_test"]) == (10, 10)
    for name in ("config.json", "model.pt", "threshold.json", "training.json", "scores.npz", "plots/roc.png",
                 "plots/top_scored.png", "plots/lowest_scored.png"):
        assert (blob_run / name).is_file(), name
    threshold = json.loads((blob_run / "threshold.json").read_text())
    assert threshold["normal_valid_images"] == 4  # 10% of the 40 normal training images
    assert json.loads((blob_run / "data.json").read_text())["sizes"] == {"fit": 36, "valid": 4, "test_normal": 10,
                                                                         "test_abnormal": 10}
    assert threshold["threshold"] == pytest.approx(np.quantile(threshold["normal_valid_scores"], 0.95), rel=1e-4)


def test_predict_uses_the_stored_threshold(blob_run, tmp_path):
    from anomaly import task

    data = blob_run.parent.parent / "data"
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"xx")
    predictor = task.load(blob_run).predictor()
    with network_blocked():
        records = predictor.predict_to([data / "abnormal", bad, data / "normal" / "test"], tmp_path / "out")
    assert sum("error" in r for r in records) == 1 and len(records) == 21
    scored = [r for r in records if "score" in r]
    assert all(r["is_anomalous"] == (r["score"] > predictor.threshold) for r in scored)
    assert all(Path(r["picture"]).is_file() for r in scored)
    abnormal = [r["score"] for r in scored if "/abnormal/" in r["image"]]
    normal = [r["score"] for r in scored if "/normal/" in r["image"]]
    assert np.mean(abnormal) > np.mean(normal)


def test_folder_dataset_faults_are_counted(tmp_path):
    from shared.datasets.anomaly_folders import read_anomaly_folders

    data = _blob_dataset(tmp_path / "d", n_normal=3, n_test=2)
    Image.new("L", (10, 10)).save(data / "masks" / "a0.png")          # wrong size: ignored, counted
    (data / "abnormal" / "broken.png").write_bytes(b"not a png")      # unreadable: skipped, counted
    table, report = read_anomaly_folders(data)
    assert report.counts() == {"size_mismatch": 1, "unreadable_image": 1}
    assert table["mask"].notna().sum() == 1 and len(table) == 3 + 2 + 2
    with pytest.raises(DataError, match="no normal images folder"):
        read_anomaly_folders(tmp_path / "nothing")


def test_threshold_pictures_picked_last_are_each_kind_newest(synthetic_root):
    import dataclasses

    from anomaly.data import load_data
    from anomaly.recipe import AnomalyRecipe

    recipe = AnomalyRecipe.from_preset("smoke", data=str(synthetic_root / "NEU-DET"), valid_pick="last")
    view = load_data(recipe)
    names = view.parts["valid"]["path"].map(lambda p: Path(p).stem.rsplit("_", 1))
    # kaggle-det fits 1-24 of 30 per class: 10% of 24 normal pictures (2), the last by number, per kind
    assert sorted(names.map(lambda n: int(n[1]))) == [23] * 5 + [24] * 5 and names.map(lambda n: n[0]).nunique() == 5
    drawn = load_data(dataclasses.replace(recipe, valid_pick="random")).parts["valid"]
    assert drawn["path"].map(lambda p: int(Path(p).stem.rsplit("_", 1)[1])).min() < 23


def test_loco_protocol_on_synthetic_neu(synthetic_root, tmp_path):
    from anomaly.protocols import run_protocol
    from anomaly.recipe import AnomalyRecipe

    with network_blocked():
        result = run_protocol(synthetic_root, "loco", AnomalyRecipe.from_preset("smoke", image_size=48), tmp_path,
                              classes=["scratches"])
    assert set(result["per_class_auroc"]) == {"scratches"} and 0 <= result["mean_auroc"] <= 1
    sizes = json.loads((tmp_path / "loco" / "scratches" / "run" / "data.json").read_text())["sizes"]
    assert sizes == {"fit": 108, "valid": 12, "test_normal": 5 * 6, "test_abnormal": 6}  # 5 x 24 normal train
    written = json.loads((tmp_path / "loco.json").read_text())
    assert written["mean_auroc"] == result["mean_auroc"] and written["data_fingerprint"] and written["git_commit"]


def test_texture_knn_scores_equal_a_numpy_sklearn_reimplementation():
    import torch
    from sklearn.neighbors import NearestNeighbors

    from anomaly import models
    from anomaly.recipe import AnomalyRecipe

    rng = np.random.default_rng(1)
    normal = rng.integers(0, 255, (12, 64, 64, 3), dtype=np.uint8)
    test = rng.integers(0, 255, (5, 64, 64, 3), dtype=np.uint8)
    model = models.fit(models.create_model(AnomalyRecipe.from_preset("texture-knn", num_neighbors=3)),
                       [normal[:7], normal[7:]])
    scores, maps = models.score(model, [test])
    assert maps.shape == (5, 64, 64)

    def descriptors(images):  # mean and log std per channel of blocks 3, 4, 5, computed apart from the model
        net = model.feature_extractor.feature_extractor
        with torch.no_grad():
            x = net.bn1(net.conv_stem(models.to_input(images)))
            out = []
            for i, block in enumerate(net.blocks[:6]):
                x = block(x)
                if i >= 3:
                    a = x.numpy().reshape(len(images), x.shape[1], -1)
                    out += [a.mean(2), np.log(a.std(2, ddof=1) + 1e-6)]
        return np.concatenate(out, 1)

    bank, queries = descriptors(normal), descriptors(test)
    center, scale = bank.mean(0), bank.std(0, ddof=1)
    distances, _ = NearestNeighbors(n_neighbors=3).fit((bank - center) / scale).kneighbors((queries - center) / scale)
    np.testing.assert_allclose(scores, distances.mean(1), rtol=1e-3)


def test_texture_knn_finds_the_visible_defect(tmp_path):
    from anomaly import task

    data = _blob_dataset(tmp_path / "data")
    with network_blocked():
        run = task.train(task.Recipe.from_preset("texture-knn", image_size=64, data=str(data),
                                                 out=str(tmp_path / "runs"), name="tk"), progress=False)
        metrics = run.evaluate()
        assert metrics["image_auroc"] >= 0.9 and metrics["pixel_auroc"] >= 0.85
        records = task.load(run.path).predictor().predict([str(p) for p in sorted((data / "abnormal").iterdir())[:2]])
    threshold = json.loads((run.path / "threshold.json").read_text())["threshold"]
    assert len(records) == 2 and all(r["is_anomalous"] == (r["score"] > threshold) for r in records)


@pytest.mark.parametrize("preset,size", [("dfm", 224), ("padim", 64)])
def test_other_library_models_fit_and_find_the_visible_defect(preset, size, tmp_path):
    from anomaly import task

    data = _blob_dataset(tmp_path / "data")
    with network_blocked():
        run = task.train(task.Recipe.from_preset(preset, image_size=size, data=str(data), out=str(tmp_path / "runs"),
                                                 name=preset), progress=False)
        metrics = run.evaluate()
        again = task.load(run.path).predictor().predict(data / "abnormal")  # the saved tensors give the same scores
    assert metrics["image_auroc"] >= 0.9
    scores = np.load(run.path / "scores.npz")["scores"][-10:]
    np.testing.assert_allclose([r["score"] for r in again], scores, rtol=1e-3)  # other batches: other last digits


def test_a_rerun_loads_the_finished_run_and_another_recipe_is_refused(synthetic_root, tmp_path, monkeypatch, capsys):
    """The run folder rule every task shares (Run.existing): the same recipe again is loaded, not fitted again;
    another recipe in the same folder is refused with one line unless overwrite=true."""
    import dataclasses

    from anomaly import models, task

    recipe = task.Recipe.from_preset("smoke", data=str(synthetic_root), image_size=48, out=str(tmp_path), name="r")
    with network_blocked():
        first = task.train(recipe, progress=False)
        scored = first.evaluate()
        stamp = (first.path / "model.pt").stat().st_mtime_ns
        with monkeypatch.context() as patch:
            patch.setattr(models, "fit", lambda *args, **kwargs: pytest.fail("a finished run was fitted again"))
            again = task.train(recipe, progress=False)
            assert "finished run of this recipe: loaded" in capsys.readouterr().out
            assert again.threshold == first.threshold and again.timings == first.timings
            assert again.evaluate()["image_auroc"] == scored["image_auroc"]
            with pytest.raises(ValueError, match=r"holds a run of another recipe \(seed 0 \(here 1\)\)"):
                task.train(dataclasses.replace(recipe, seed=1), progress=False)
        assert (first.path / "model.pt").stat().st_mtime_ns == stamp
        replaced = task.train(dataclasses.replace(recipe, seed=1, overwrite=True), progress=False)
    assert task.Recipe.load(replaced.path / "config.json").seed == 1 and not (replaced.path / "scores.npz").exists()


class Payload:
    """What a malicious run folder could carry: unpickling it runs code (here: it writes a marker file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('executed')",)


def test_a_tampered_model_file_is_refused_not_executed(blob_run, tmp_path):
    import shutil

    import torch

    from anomaly import task

    run = Path(shutil.copytree(blob_run, tmp_path / "run"))
    marker = tmp_path / "executed.txt"
    torch.save({"memory_bank": Payload(marker)}, run / "model.pt")
    with pytest.raises(DataError, match="not a plain weights file"):
        task.load(run)
    assert not marker.exists()
    torch.load(run / "model.pt", weights_only=False)  # the unsafe loader would have run it
    assert marker.read_text() == "executed"


def test_a_run_saved_by_another_model_layout_gets_a_one_line_error(blob_run, tmp_path):
    import shutil

    import torch

    from anomaly import task

    run = Path(shutil.copytree(blob_run, tmp_path / "run"))
    state = torch.load(run / "model.pt", weights_only=True)
    state.pop(min(state))
    torch.save({**state, "location_mean.0": torch.zeros(3)}, run / "model.pt")
    with pytest.raises(DataError, match="do not match.*re-train the run") as error:
        task.load(run)
    assert "\n" not in str(error.value) and "location_mean.0" in str(error.value)


def _wide_blob_dataset(root, n_normal=30, n_test=8, shape=(64, 160), side=24):
    """Non-square pictures (height x width = shape): grain texture; abnormal ones carry a dark square, masked."""
    rng = np.random.default_rng(3)
    for folder in ("normal/train", "normal/test", "abnormal", "masks"):
        (root / folder).mkdir(parents=True)
    h, w = shape

    def texture():
        return np.clip(rng.normal(128, 12, shape), 0, 255)

    for k in range(n_normal):
        Image.fromarray(texture().astype(np.uint8)).save(root / "normal/train" / f"n{k}.png")
    for k in range(n_test):
        Image.fromarray(texture().astype(np.uint8)).save(root / "normal/test" / f"t{k}.png")
        image, mask = texture(), np.zeros(shape, np.uint8)
        y, x = rng.integers(12, h - side - 11), rng.integers(12, w - side - 11)  # off the edges: a defect at the
        # edge is mirrored into the letterbox fill, and the seam, not the defect, then peaks
        image[y:y + side, x:x + side] -= 70
        mask[y:y + side, x:x + side] = 255
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / "abnormal" / f"a{k}.png")
        Image.fromarray(mask).save(root / "masks" / f"a{k}.png")
    return root


def test_letterbox_keeps_the_aspect_and_maps_come_back_to_the_picture():
    from shared.datasets.images import from_letterbox, letterbox

    rng = np.random.default_rng(0)
    square = rng.integers(0, 255, (50, 50, 3), dtype=np.uint8)
    boxed, placement = letterbox(square, 64)
    assert np.array_equal(boxed, np.asarray(Image.fromarray(square).resize((64, 64), Image.BILINEAR)))
    wide = rng.integers(0, 255, (30, 120, 3), dtype=np.uint8)
    boxed, placement = letterbox(wide, 64)
    assert boxed.shape == (64, 64, 3) and (placement.width, placement.height) == (64, 16)
    assert np.array_equal(boxed[placement.top:placement.top + 16],
                          np.asarray(Image.fromarray(wide).resize((64, 16), Image.BILINEAR)))
    # a map that marks the content's right half comes back as the picture's right half
    marks = np.zeros((64, 64), np.float32)
    marks[:, 32:] = 1
    back = from_letterbox(marks, placement)
    assert back.shape == (30, 120) and back[:, :58].max() == 0 and back[:, 62:].min() == 1


def test_resize_stretches_tiles_cover_and_older_runs_keep_their_letterbox_and_grid(tmp_path):
    from anomaly.aspect import tiles
    from anomaly.recipe import AnomalyRecipe
    from shared.datasets.images import from_letterbox, letterbox, to_square

    rng = np.random.default_rng(0)
    square = rng.integers(0, 255, (50, 50, 3), dtype=np.uint8)
    assert np.array_equal(to_square(square, 64, "resize")[0], letterbox(square, 64)[0])  # squares: the same
    assert len(tiles(square, 64)[0]) == 1 and np.array_equal(tiles(square, 64)[0][0], letterbox(square, 64)[0])
    wide = rng.integers(0, 255, (30, 120, 3), dtype=np.uint8)
    stretched, placement = to_square(wide, 64, "resize")
    assert np.array_equal(stretched, np.asarray(Image.fromarray(wide).resize((64, 64), Image.BILINEAR)))
    marks = np.zeros((64, 64), np.float32)
    marks[:, 32:] = 1
    back = from_letterbox(marks, placement)
    assert back.shape == (30, 120) and back[:, :58].max() == 0 and back[:, 62:].min() == 1
    with pytest.raises(ValueError, match="aspect 'tile': want one of letterbox, resize"):
        to_square(wide, 64, "tile")
    config = AnomalyRecipe.from_preset("texture-knn").to_dict()
    for name in ("map_aspect", "score_aspect", "map_contrast", "map_stride", "map_blur"):  # saved before the fields
        config.pop(name)
    (tmp_path / "config.json").write_text(json.dumps(config))
    old = AnomalyRecipe.load(tmp_path / "config.json")
    assert (old.map_aspect, old.score_aspect, old.map_contrast, old.map_stride, old.map_blur) == (
        "letterbox", "letterbox", "none", 16, 0.0)


@pytest.mark.parametrize("sigma", [1.5, 4.0])
def test_the_map_blur_is_scipy_s_gaussian_filter(sigma):
    """The model's blur (two 1-D convolutions, ONNX-exportable) against scipy.ndimage's, edges mirrored alike."""
    import torch
    from scipy.ndimage import gaussian_filter

    from anomaly.texture_knn import gaussian_blur

    maps = np.random.default_rng(0).normal(size=(2, 1, 40, 56)).astype(np.float32)
    maps[0, 0, 3:9, 50:] += 5  # a defect at the border
    got = gaussian_blur(torch.from_numpy(maps), sigma).numpy()
    want = np.stack([gaussian_filter(m, sigma, mode="mirror") for m in maps[:, 0].astype(np.float64)])[:, None]
    assert np.allclose(got, want, atol=1e-5)
    assert np.array_equal(gaussian_blur(torch.from_numpy(maps), 0.0).numpy(), maps)
    small = maps[:, :, :5, :7]  # the kernel reaches past both edges, more than once
    want = np.stack([gaussian_filter(m, 8.0, mode="mirror") for m in small[:, 0].astype(np.float64)])[:, None]
    assert np.allclose(gaussian_blur(torch.from_numpy(np.ascontiguousarray(small)), 8.0).numpy(), want, atol=1e-5)


@pytest.mark.parametrize("stride", [8, 16])
def test_the_map_grid_follows_map_stride(stride):
    import torch

    from anomaly.models import create_model
    from anomaly.recipe import AnomalyRecipe

    model = create_model(AnomalyRecipe.from_preset("texture-knn", map_stride=stride))
    for size in ((224, 224), (160, 96)):
        with torch.no_grad():
            _, patches = model._split(model.feature_extractor(torch.zeros(1, 3, *size)), size)
        assert patches.shape[-2:] == (size[0] // stride, size[1] // stride)


@pytest.mark.parametrize("aspects", [("letterbox", "tile"), ("resize", "resize")])
def test_non_square_pictures_are_judged_and_mapped_at_their_own_shape(tmp_path, aspects):
    from anomaly import models, task
    from anomaly.aspect import tiles
    from anomaly.metrics import peak

    data = _wide_blob_dataset(tmp_path / "data")
    map_aspect, score_aspect = aspects
    with network_blocked():
        run = task.train(task.Recipe.from_preset("texture-knn", image_size=160, data=str(data), bank_size=2000,
                                                 out=str(tmp_path / "runs"), name="wide", map_aspect=map_aspect,
                                                 score_aspect=score_aspect), progress=False)
        metrics = run.evaluate()
        records = task.load(run.path).predictor().predict(sorted((data / "abnormal").iterdir()), keep_arrays=True)
    # stretched 2.5 times, the square blob is another shape than the fit's texture ever shows: its map ranks less well
    assert metrics["image_auroc"] >= 0.9 and metrics["pixel_auroc"] >= (0.9 if map_aspect == "letterbox" else 0.85)
    assert metrics["box_hit_rate"] >= 0.75 and metrics["pixel_pro"] is not None and metrics["judged_abnormal"] == 8
    inside = 0
    for record, mask_file in zip(records, sorted((data / "masks").iterdir())):
        mask = np.asarray(Image.open(mask_file)) > 127
        assert record["_map"].shape == mask.shape == (64, 160)  # the picture's own resolution
        assert (record["peak"]["x"], record["peak"]["y"]) == peak(record["_map"])
        assert f"x={record['peak']['x']}, y={record['peak']['y']}" in record["explanation"]
        inside += mask[record["peak"]["y"], record["peak"]["x"]]
    assert inside >= 6
    assert (run.path / "plots" / "abnormal_heatmaps.png").is_file()
    if score_aspect == "tile":  # 64 x 160 -> 160 x 400: three tiles, the score the largest of theirs
        picture = np.asarray(Image.open(min((data / "abnormal").iterdir())).convert("RGB"))
        cut, scaled, _ = tiles(picture, 160)
        assert len(cut) == 3 and scaled == (400, 160)
        expected = models.score(run.model, [np.stack(cut)])[0].max()
        assert records[0]["score"] == pytest.approx(float(expected), rel=1e-5)


def test_localization_metrics_on_known_maps():
    from anomaly.metrics import box_hits, localization

    masks = np.zeros((3, 8, 8), bool)
    masks[0, :2, :2] = masks[1, 4:, 4:] = True
    maps = np.zeros((3, 8, 8))
    maps[0, 1, 1] = 5   # peak inside its box
    maps[1, 0, 0] = 5   # peak outside
    maps[2] = 0.1       # a normal picture, low everywhere
    labels = np.array([1, 1, 0])
    assert box_hits(maps[:2], masks[:2]).tolist() == [True, False]
    result = localization(maps, masks, labels)
    assert result["box_hit_rate"] == 0.5 and result["judged_abnormal"] == 2
    from sklearn.metrics import roc_auc_score

    assert result["pixel_auroc"] == pytest.approx(roc_auc_score(masks.reshape(-1), maps.reshape(-1)))


def test_patchcore_random_bank_is_seeded_and_sized_by_the_ratio():
    import torch

    from anomaly import models
    from anomaly.recipe import AnomalyRecipe

    images = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    banks = []
    for seed in (0, 0, 1):
        recipe = AnomalyRecipe.from_preset("patchcore", image_size=64, coreset_ratio=0.1, seed=seed)
        model = models.fit(models.create_model(recipe), [images], 0.1, sampler="random", seed=seed)
        banks.append(model.memory_bank.clone())
    patches = 6 * 8 * 8  # blocks.2 of Lite0 at 64 px: 8 x 8 locations per picture
    assert len(banks[0]) == int(patches * 0.1)
    assert torch.equal(banks[0], banks[1]) and not torch.equal(banks[0], banks[2])


def test_map_fusion_adds_the_standardised_image_score_and_cli_fields_reach_the_model(tmp_path):
    """Two models differing only in map_fusion: their maps differ by exactly weight x the image score in the
    normal pictures' units; the fields come from the command line into config.json."""
    import torch

    from anomaly import models, task
    from anomaly.recipe import AnomalyRecipe
    from shared.suite.cli import main

    rng = np.random.default_rng(2)
    normal, test = rng.integers(0, 255, (16, 64, 64, 3), dtype=np.uint8), rng.integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    fitted = [models.fit(models.create_model(AnomalyRecipe.from_preset("texture-knn", bank_size=300, map_fusion=w)),
                         [normal]) for w in (0.0, 0.5)]
    (s0, m0), (s1, m1) = (models.score(m, [test]) for m in fitted)
    np.testing.assert_allclose(s0, s1, rtol=1e-6)
    model = fitted[1]
    expected = 0.5 * (torch.from_numpy(s0) - model.score_center) / model.score_scale
    np.testing.assert_allclose(m1 - m0, expected.numpy()[:, None, None] * np.ones_like(m0), atol=1e-4)

    data = _blob_dataset(tmp_path / "data", n_normal=12, n_test=2)
    with network_blocked():
        assert main(["anomaly", "train", f"data={data}", "image_size=64", "bank_size=100", "map_fusion=0",
                     "map_calibration=none", f"out={tmp_path}/runs", "name=cli", "--quiet"]) == 0
    config = json.loads((tmp_path / "runs" / "cli" / "config.json").read_text())
    assert (config["bank_size"], config["map_fusion"], config["map_calibration"]) == (100, 0.0, "none")
    loaded = task.load(tmp_path / "runs" / "cli").model
    assert len(loaded.patch_bank) == 100 and loaded.map_fusion == 0.0 and loaded.location_std.numel() == 1


def test_contrast_takes_each_map_less_its_median_and_exports_to_onnx(tmp_path):
    """map_contrast=median: a map less its own (lower) median, then the image score's term: the map's median is
    that term. The topk that finds the median exports: ONNX Runtime gives the same maps."""
    import torch

    from anomaly import models, task
    from anomaly.export import export_checked

    data = _blob_dataset(tmp_path / "data", n_normal=24, n_test=4)
    with network_blocked():
        run = task.train(task.Recipe.from_preset("texture-knn", image_size=64, data=str(data), bank_size=500,
                                                 map_contrast="median", out=str(tmp_path / "runs"), name="c"),
                         progress=False)
    model = run.model
    images = run.data.pixels("test")
    scores, maps = models.score(model, [images])
    term = model.map_fusion * (torch.from_numpy(scores) - model.score_center) / model.score_scale
    flat = maps.reshape(len(maps), -1)
    lower = np.sort(flat, axis=1)[:, flat.shape[1] - (flat.shape[1] // 2 + 1)]  # the lower median
    assert np.allclose(lower, term.numpy(), atol=1e-4)
    _, difference = export_checked(run)
    assert difference < 1e-3
