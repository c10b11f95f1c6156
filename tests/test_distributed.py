"""Training runs unchanged under torchrun: two CPU processes (gloo), one tiny epoch."""

import subprocess
import sys

from tests.conftest import REPO_ROOT
from training import checkpoint as checkpoints
from training.cli import main


def test_two_cpu_ranks_train_one_epoch_with_the_same_result_format(fer2013_root, tmp_path):
    common = ["train", "--arch", "mini_xception", "--data", str(fer2013_root), "--limit-per-class", "10",
              "--epochs", "1", "--batch", "16", "--device", "cpu", "--workers", "0"]
    ddp_out, single_out = tmp_path / "ddp", tmp_path / "single"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "training", *common, "--out", str(ddp_out)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert main([*common, "--threads", "1", "--out", str(single_out)]) == 0

    ddp, single = (checkpoints.load(out / checkpoints.LAST) for out in (ddp_out, single_out))
    assert ddp.world_size == 2 and single.world_size == 1
    assert set(ddp.to_dict()) == set(single.to_dict())
    assert set(ddp.to_dict()["progress"]) == set(single.to_dict()["progress"])
    assert ddp.command.startswith("torchrun --standalone --nproc_per_node=2 -m training train")
    entry = ddp.progress.history[0]
    assert set(entry) == set(single.progress.history[0])
    assert 0.0 <= entry["val_accuracy"] <= 1.0 and entry["train_loss"] > 0
    assert (ddp_out / checkpoints.BEST).is_file() and (ddp_out / "history.json").is_file()
    # Both ranks validated disjoint halves; the reduced figures cover all 70 validation images.
    assert abs(entry["val_accuracy"] * 70 - round(entry["val_accuracy"] * 70)) < 1e-6
    assert result.stderr.count("epoch 1/1") == 1, f"only rank 0 reports:\n{result.stderr}"
