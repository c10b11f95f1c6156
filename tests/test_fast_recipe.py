"""The fast recipe's parts: random erasing, mixup/CutMix, the weight average, warm-up + cosine,
distillation (loss, teacher files, a real student moving toward a real teacher), and the
paper recipes staying as they were."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from app.face.preprocess import PreprocessSpec, to_tensor
from tests.conftest import REPO_ROOT
from training import checkpoint as checkpoints
from training.augment import AugmentConfig, Augmenter
from training.cli import main
from training.data import DataOptions, load_split
from training.ema import WeightAverage
from training.losses import build_loss, distillation
from training.mixing import mix_batch
from training.optimisation import WarmupCosine
from training.recipes import RECIPES, recipe_for
from training.teacher import TeacherProbabilities, make_teacher

SHIPPED_MINI_XCEPTION = REPO_ROOT / "models_onnx" / "mini_xception.onnx"
GRAY = PreprocessSpec((48, 48), 1, "gray", (0.5,), (0.25,), False, "fer2013_mesh_v1")
QUICK = ["--arch", "mini_xception", "--threads", "1", "--workers", "0", "--no-progress"]


def test_random_erasing_fills_one_box_of_the_stated_area():
    crop = np.full((48, 48, 1), 128, np.uint8)
    augmenter = Augmenter(AugmentConfig(erasing=1.0))
    for seed in range(20):
        erased = augmenter(crop, np.random.default_rng(seed))
        changed = np.argwhere(erased[..., 0] != 128)
        rows, columns = np.ptp(changed[:, 0]) + 1, np.ptp(changed[:, 1]) + 1
        assert 0.02 * 48 * 48 * 0.5 <= rows * columns <= 0.25 * 48 * 48 * 1.3
        np.testing.assert_array_equal(erased, augmenter(crop, np.random.default_rng(seed)))
    assert AugmentConfig(erasing=0.5).enabled and not AugmentConfig().enabled
    with pytest.raises(ValueError, match="erasing"):
        AugmentConfig(erasing=1.5)


def test_mixup_and_cutmix_blend_targets_and_teacher_by_the_share_of_each_image():
    images = torch.stack([torch.full((1, 8, 8), float(value)) for value in range(4)])
    targets, teacher = torch.tensor([0, 1, 2, 3]), torch.eye(4)[[3, 2, 1, 0]]
    same = mix_batch(images, targets, teacher, 4, 0.0, 0.0, np.random.default_rng(0))
    assert same[0] is images and same[1] is targets
    for alphas in ((0.4, 0.0), (0.0, 1.0)):
        mixed, distributions, mixed_teacher = mix_batch(images, targets, teacher, 4, *alphas,
                                                        np.random.default_rng(3))
        torch.testing.assert_close(distributions.sum(dim=1), torch.ones(4))
        for row in range(4):  # each image's mean pixel is its blend of the two classes' values
            expected = (distributions[row] * torch.arange(4.0)).sum()
            torch.testing.assert_close(mixed[row].mean(), expected)
            partner_share = 1 - distributions[row, row]
            torch.testing.assert_close(mixed_teacher[row, 3 - row], 1 - partner_share)
        again = mix_batch(images, targets, teacher, 4, *alphas, np.random.default_rng(3))
        assert torch.equal(again[0], mixed)


def test_the_weight_average_lags_the_weights_and_round_trips():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model[0].register_forward_hook(lambda module, inputs, output: output * 0)
    average = WeightAverage(model, 0.9)
    assert not any(module._forward_hooks for module in average.model.modules())
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(5.0)
    average.update(model)
    decay = min(0.9, 2 / 11)
    torch.testing.assert_close(average.model[0].weight, start + (1 - decay))
    assert torch.equal(average.model[1].running_mean, model[1].running_mean)
    copy = WeightAverage(model, 0.9)
    copy.load_state_dict(average.state_dict())
    assert copy.updates == 1 and torch.equal(copy.model[0].weight, average.model[0].weight)


def test_warmup_rises_linearly_then_the_cosine_falls_to_the_final_fraction():
    schedule = WarmupCosine(warmup=10, total=110, final=0.0)
    assert [schedule(step) for step in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert schedule(60) == pytest.approx(0.5) and schedule(110) == pytest.approx(0.0)
    assert all(schedule(step) >= schedule(step + 1) for step in range(10, 110))


def test_distillation_is_zero_at_the_teacher_and_pulls_the_student_toward_it():
    teacher = torch.tensor([[0.7, 0.2, 0.1]])
    matching = torch.log(teacher)
    assert distillation(matching, teacher, 1.0).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation(matching, teacher, 3.0).item() == pytest.approx(0.0, abs=1e-6)
    student = torch.zeros(1, 3, requires_grad=True)
    distillation(student, teacher, 2.0).backward()
    assert student.grad[0].argmin() == 0  # a descent step raises the teacher's top class
    loss = build_loss("cross_entropy", [1, 1, 1], distill_weight=0.25, distill_temperature=2.0)
    logits, targets = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([2])
    expected = 0.75 * F.cross_entropy(logits, targets) + 0.25 * distillation(logits, teacher, 2.0)
    torch.testing.assert_close(loss(logits, targets, teacher=teacher), expected)
    with pytest.raises(ValueError, match="teacher"):
        loss(logits, targets)


def test_the_paper_recipes_stay_and_the_fast_recipe_keeps_what_makes_each_architecture():
    assert recipe_for("mini_xception") is RECIPES["mini_xception"]
    assert RECIPES["mini_xception"].optimiser.name == "adam"
    for arch, paper in RECIPES.items():
        fast = recipe_for(arch, "fast")
        assert fast.optimiser.nesterov and fast.schedule.name == "warmup_cosine"
        assert (fast.island_weight, fast.auxiliary_from, fast.gamma) == \
            (paper.island_weight, paper.auxiliary_from, paper.gamma)
    with pytest.raises(ValueError, match="valid: \\['paper', 'fast'\\]"):
        recipe_for("mini_xception", "quick")


@pytest.fixture(scope="module")
def teacher_file(fer2013_root, tmp_path_factory):
    if not SHIPPED_MINI_XCEPTION.is_file():
        pytest.skip(f"needs the shipped {SHIPPED_MINI_XCEPTION.name}")
    path = tmp_path_factory.mktemp("teacher") / "teacher.npz"
    assert main(["soft-labels", str(SHIPPED_MINI_XCEPTION), "--data", str(fer2013_root),
                 "--limit-per-class", "30", "--out", str(path)]) == 0
    return path


def test_a_teacher_file_records_its_members_and_refuses_another_split(teacher_file, fer2013_root):
    teacher = TeacherProbabilities.load(teacher_file)
    assert teacher.members == ("mini_xception.onnx",) and len(teacher.member_sha256[0]) == 64
    assert teacher.probabilities.shape == (210, 7)
    np.testing.assert_allclose(teacher.probabilities.sum(axis=1), 1, atol=1e-5)
    assert teacher.accuracy > 0.5  # a trained model on crops it was trained on
    joined = make_teacher([teacher_file, teacher_file], fer2013_root, weights=[1, 3])
    assert joined.members == ("mini_xception.onnx",) * 2 and joined.weights == (1, 3)
    np.testing.assert_allclose(joined.probabilities, teacher.probabilities, atol=2e-3)
    other = load_split("auto", fer2013_root, "train", GRAY, DataOptions(limit_per_class=31))
    with pytest.raises(ValueError, match="remake them"):
        teacher.check_matches(other)


def test_a_student_distilled_from_a_teacher_moves_toward_its_predictions(teacher_file, fer2013_root,
                                                                         tmp_path):
    teacher = TeacherProbabilities.load(teacher_file)
    common = ["train", *QUICK, "--data", str(fer2013_root), "--limit-per-class", "30", "--epochs", "6",
              "--batch", "15", "--lr", "0.003", "--schedule", "constant", "--augment", "none"]
    assert main([*common, "--out", str(tmp_path / "alone")]) == 0
    assert main([*common, "--out", str(tmp_path / "taught"), "--teacher", str(teacher_file),
                 "--distill-weight", "1.0", "--distill-temperature", "2"]) == 0
    crops = load_split("auto", fer2013_root, "train", GRAY, DataOptions(limit_per_class=30))
    distances = {}
    for name in ("alone", "taught"):
        saved = checkpoints.load(tmp_path / name / checkpoints.LAST)
        assert (saved.settings.recipe.teacher is not None) == (name == "taught")
        model = saved.trained_model()
        spec = saved.spec
        images = torch.from_numpy(np.stack([to_tensor(crop, spec)[0] for crop in crops.crops]))
        with torch.no_grad():
            student = F.log_softmax(model.eval()(images), dim=1)
        target = torch.from_numpy(teacher.probabilities)
        distances[name] = F.kl_div(student, target, reduction="batchmean").item()
    assert distances["taught"] < distances["alone"], distances


def test_teacher_onnx_files_are_scored_once_into_the_run_folder(fer2013_root, tmp_path):
    if not SHIPPED_MINI_XCEPTION.is_file():
        pytest.skip(f"needs the shipped {SHIPPED_MINI_XCEPTION.name}")
    out = tmp_path / "run"
    assert main(["train", *QUICK, "--data", str(fer2013_root), "--limit-per-class", "10", "--epochs", "1",
                 "--batch", "14", "--out", str(out), "--teacher", str(SHIPPED_MINI_XCEPTION)]) == 0
    saved = checkpoints.load(out / checkpoints.LAST)
    assert saved.settings.recipe.teacher == str(out / "teacher.npz")
    assert saved.settings.recipe.distill_weight == 0.5
    assert TeacherProbabilities.load(out / "teacher.npz").members == ("mini_xception.onnx",)
    assert main(["train", *QUICK, "--data", str(fer2013_root), "--out", str(tmp_path / "bad"),
                 "--teacher", str(tmp_path / "a.txt")]) == 2
    # A folder that holds a run is refused before any teacher is scored into it.
    (out / "teacher.npz").unlink()
    assert main(["train", *QUICK, "--data", str(fer2013_root), "--limit-per-class", "10", "--out", str(out),
                 "--teacher", str(SHIPPED_MINI_XCEPTION)]) == 2
    assert not (out / "teacher.npz").exists()


def test_resume_is_exact_with_mixing_the_average_and_a_per_batch_schedule(fer2013_root, tmp_path):
    common = ["train", *QUICK, "--data", str(fer2013_root), "--limit-per-class", "20", "--epochs", "2",
              "--batch", "20", "--recipe", "fast", "--mixup", "0.2", "--cutmix", "1.0", "--ema", "0.9"]
    straight, paused = tmp_path / "straight", tmp_path / "paused"
    assert main([*common, "--out", str(straight)]) == 0
    assert main([*common, "--out", str(paused), "--max-minutes", "0"]) == 75
    assert main(["train", "--resume", "--out", str(paused)]) == 0
    expected, resumed = (checkpoints.load(run / checkpoints.LAST) for run in (straight, paused))
    for name, tensor in expected.state_dict.items():
        assert torch.equal(tensor, resumed.state_dict[name]), name
    for name, tensor in expected.optimisation.ema["weights"].items():
        assert torch.equal(tensor, resumed.optimisation.ema["weights"][name]), name
    best = checkpoints.load(straight / checkpoints.BEST)
    assert "ema" not in best.to_dict()
    assert any(not torch.equal(best.state_dict[name], tensor)
               for name, tensor in expected.state_dict.items() if tensor.is_floating_point())
