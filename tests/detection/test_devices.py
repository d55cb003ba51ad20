"""Several GPUs are ultralytics' own DDP (`device=0,1`); GPUs the machine lacks are refused in one line before
ultralytics starts or any file is written."""
import pytest

from detection.devices import check_devices, cuda_request


def test_device_words(monkeypatch):
    assert [cuda_request(word) for word in ("", "cpu", "mps", "npu:0")] == [None] * 4
    assert cuda_request("0,1") == ["0", "1"] and cuda_request("cuda:0") == ["0"] and cuda_request("[0, 1]") == ["0", "1"]
    with pytest.raises(ValueError, match="neither cpu, mps nor CUDA GPU numbers"):
        cuda_request("gpu0")


def test_gpus_the_machine_lacks_are_refused(monkeypatch):
    import torch

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    check_devices("cpu")
    with pytest.raises(ValueError, match=r"device=0,1 asks for 2 CUDA GPUs, and torch sees none"):
        check_devices("0,1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # one GPU: 0 is there, 1 is not
    check_devices("0")
    for word in ("0,1", "1", "0,0"):
        with pytest.raises(ValueError, match=r"torch sees 1, numbered 0 to 0"):
            check_devices(word)


def test_training_on_missing_gpus_stops_before_ultralytics(synthetic_root, tmp_path, capsys, monkeypatch):
    import torch

    from detection import train
    from shared.suite.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # whatever this machine has
    monkeypatch.setattr(train, "ultralytics_module", lambda: pytest.fail("ultralytics was started"))
    code = main(["detection", "train", f"data={synthetic_root / 'NEU-DET'}", "preset=smoke", "device=0,1",
                 f"out={tmp_path}", "name=ddp"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert "device=0,1 asks for 2 CUDA GPUs, and torch sees none on this machine" in error
    assert not (tmp_path / "ddp").exists()  # nothing written
