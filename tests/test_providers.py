"""The execution-provider probe: real sessions, real fallbacks, nothing on the terminal."""

import logging
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from app.model import providers
from app.model.inference import EmotionClassifier
from app.model.providers import CPU, CUDA, PROBE_MODEL, TENSORRT, probe
from app.system.quiet import native_output_captured
from tests.conftest import REPO_ROOT


def test_probe_model_is_the_documented_graph():
    weight = (np.arange(36, dtype=np.float32).reshape(4, 1, 3, 3) - 17.5) / 36
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "weight"], ["conv"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["conv"], ["relu"]),
            helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
            helper.make_node("Flatten", ["pool"], ["y"], axis=1),
        ],
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[numpy_helper.from_array(weight, "weight")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="emotion-live-probe")
    model.ir_version = 8
    onnx.checker.check_model(model)
    assert model.SerializeToString() == PROBE_MODEL


def test_the_chosen_provider_is_where_a_session_really_runs(mini_xception_onnx):
    report = probe()
    session = ort.InferenceSession(str(mini_xception_onnx), providers=report.session_providers)
    assert session.get_providers()[0] == report.provider
    assert report.provider in report.summary and report.provider in report.text()


def test_cpu_request_tries_no_accelerator():
    report = probe("cpu")
    assert report.provider == CPU and report.attempts == ()
    assert "requested" in report.summary


def test_unknown_request_names_the_valid_ones():
    with pytest.raises(ValueError, match="auto"):
        probe("opencl")


@pytest.mark.skipif(CUDA not in ort.get_available_providers(), reason="no CUDA in this ORT build")
def test_a_failed_gpu_probe_says_why_and_logs_the_raw_messages(caplog, monkeypatch):
    monkeypatch.setattr(providers, "nvidia_driver_loaded", lambda: True)  # a GPU, maybe no CUDA
    with caplog.at_level(logging.DEBUG, logger="app.model.providers"):
        report = providers.probe.__wrapped__("cuda")  # uncached: run the probe again
    (attempt,) = report.attempts
    if attempt.usable:
        pytest.skip("CUDA works here; nothing fails")
    assert report.provider == CPU and attempt.reason
    assert attempt.reason in report.text() and "CUDA 13" in report.text()
    assert "bash scripts/bootstrap.sh gpu" in report.text()  # the one command that fixes it
    assert any("ONNX Runtime said while probing" in r.message for r in caplog.records)


@pytest.mark.skipif(CUDA not in ort.get_available_providers(), reason="no CUDA in this ORT build")
def test_without_an_nvidia_gpu_the_report_says_so_and_recommends_no_cuda(monkeypatch):
    monkeypatch.setattr(providers, "nvidia_driver_loaded", lambda: False)
    report = providers.probe.__wrapped__("auto")
    assert report.provider == CPU and not report.gpu_found
    assert report.summary == f"{CPU}: no NVIDIA GPU found"
    assert "CUDA 13" not in report.text() and "pip install" not in report.text()
    assert report.unmet is None  # auto asked for nothing in particular
    explicit = providers.probe.__wrapped__("cuda")
    assert explicit.unmet == "--provider cuda cannot run here (no NVIDIA GPU found)"


def test_tensorrt_gets_one_profile_for_every_batch_up_to_the_most_faces(mini_xception_onnx,
                                                                         monkeypatch):
    """Without a profile, TensorRT rebuilds its engine each time one more face appears."""
    from app.model import inference

    opened, real_open = [], inference.open_session

    def open_on_the_cpu(path, session_providers):
        opened.append(session_providers)
        return real_open(path, [CPU])

    monkeypatch.setattr(inference, "open_session", open_on_the_cpu)
    EmotionClassifier(mini_xception_onnx, [(TENSORRT, {"trt_fp16_enable": True}), CUDA, CPU],
                      max_batch=6)
    (trt_name, options), *others = opened[0]
    assert trt_name == TENSORRT and others == [CUDA, CPU]
    assert options == {"trt_fp16_enable": True, "trt_profile_min_shapes": "input:1x1x48x48",
                       "trt_profile_opt_shapes": "input:1x1x48x48",
                       "trt_profile_max_shapes": "input:6x1x48x48"}
    EmotionClassifier(mini_xception_onnx, [CUDA, CPU])
    assert opened[1] == [CUDA, CPU]  # no TensorRT: nothing added


def test_probing_prints_nothing_on_the_terminal():
    """CUDA library-load errors go to fd 2 straight from C++: they must not show."""
    completed = subprocess.run(
        [sys.executable, "-c", "from app.model.providers import probe; probe()"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True,
    )
    assert completed.stdout == "" and completed.stderr == ""


def test_classifier_defaults_to_the_probed_provider(mini_xception_onnx):
    assert EmotionClassifier(mini_xception_onnx).provider == probe().provider


def test_native_output_is_captured_at_the_file_descriptor(capfd):
    with native_output_captured() as captured:
        os.write(2, b"from C, on stderr\n")
        os.write(1, b"and on stdout\n")
    assert captured.lines() == ["from C, on stderr", "and on stdout"]
    assert capfd.readouterr() == ("", "")


def test_the_gpu_extra_brings_cuda_and_cudnn_as_wheels():
    """The command the report names installs what ``onnxruntime.preload_dlls()`` loads."""
    import tomllib

    from tests.conftest import REPO_ROOT

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    (requirement,) = project["optional-dependencies"]["gpu"]
    assert requirement.startswith("onnxruntime-gpu[cuda,cudnn]")
