"""Ablations: the names ``--ablate`` takes, the recipe changes some of them stand for, and
each paper's ablation table as the set of variants ``emotion-train ablate`` trains.

The switches themselves live beside each builder (``ABLATIONS`` in
``training/models/<name>.py``); this module turns a command line into a checked set and
lays out the papers' tables, rows in the paper's order, with the numbers each paper
reports for them:

- yolov8_dyconv_gam: Wang, Yin, Xie and Gu, "Research on Expression Recognition Algorithm
  Based on Deep Learning" (2025; the paper prints no DOI), Table V, FER2013 column.
- mobilenetv3_dilated_simam: Jiang et al., "Research on facial expression recognition
  algorithm based on improved MobileNetV3", DOI 10.1186/s13640-024-00638-z, Table 4
  (RaFD, recognition rate after 30 epochs; the paper ablates on RaFD only).
- dcrnet: Abdeldayem et al., "Improving Facial Expression Recognition in real-world
  Environments", DOI 10.19139/soic-2310-5070-3171, Table 8 (AffectNet-7) and Sec. 3 (SE).
- vgg16_gcca_pdra: Chen and Chen, "A Framework for Facial Expression Recognition
  Combining Contextual Information and Attention Mechanism", DOI 10.3745/JIPS.01.0107,
  Table 1, FER2013 column.
- mini_xception: Wang, "Research on Facial Emotion Recognition Based on Deep Learning",
  DOI 10.54097/kyr70z32: no ablation; its table is the full model alone (Table 4).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from training.models import architecture
from training.models.registry import checked_ablations
from training.recipes import Recipe


def parse_names(text: str) -> tuple[str, ...]:
    """``"gam, dynamic_conv"`` -> ``("dynamic_conv", "gam")``: sorted, without repeats."""
    return tuple(sorted({name.strip() for name in text.split(",") if name.strip()}))


def checked(arch: str, names) -> tuple[str, ...]:
    """The names sorted, or a ValueError listing the ones ``arch`` accepts."""
    return tuple(sorted(checked_ablations(arch, names or (), architecture(arch).ablations)))


def ablated_recipe(recipe: Recipe, arch: str, ablate, given: dict) -> Recipe:
    """The recipe with the fields set that recipe-level ablations stand for (a loss term,
    preprocessing); a ValueError where an option the user gave says otherwise."""
    changes: dict = {}
    for name in ablate:
        for field_name, value in architecture(arch).recipe_ablations.get(name, {}).items():
            if field_name in given and given[field_name] != value:
                raise ValueError(f"--ablate {name} sets {field_name} to {value!r}, but the command "
                                 f"line asks for {given[field_name]!r}: drop one of them")
            changes[field_name] = value
    return replace(recipe, **changes) if changes else recipe


def describe(arch: str, ablate) -> str:
    """What a variant changes, in the words of the architecture's ``ABLATIONS``."""
    if not ablate:
        return "the paper's full model"
    ablations = architecture(arch).ablations
    return "; ".join(f"{name}: {ablations[name].split(' (')[0]}" for name in sorted(ablate))


@dataclass(frozen=True)
class Variant:
    """One row of a paper's ablation table, as the modules it switches off."""

    name: str
    """Folder-safe name: runs go to ``<out>/<name>-seed<k>``."""
    ablate: frozenset[str]
    paper_row: str
    """The row as the paper labels it."""
    paper_accuracy: float | None = None
    """The accuracy (%) the paper reports for the row; None where the table has no such row."""


@dataclass(frozen=True)
class PaperTable:
    arch: str
    source: str
    """Which table, and the data set its numbers are measured on."""
    variants: tuple[Variant, ...]

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise ValueError(f"{self.arch}'s table has no variant {name!r}; valid: "
                         f"{[variant.name for variant in self.variants]}")


def _variant(name: str, ablate: str, row: str, accuracy: float | None = None) -> Variant:
    return Variant(name, frozenset(parse_names(ablate)), row, accuracy)


_MOBILENET_BASE = "simam_to_se, groupnorm"
TABLES: dict[str, PaperTable] = {table.arch: table for table in (
    PaperTable("yolov8_dyconv_gam", "Table V, FER2013 accuracy (%)", (
        _variant("yolov8", "dynamic_conv, gam", "YOLOv8", 75.3),
        _variant("yolov8-dyconv", "gam", "YOLOv8+DyConv", 78.2),
        _variant("yolov8-gam", "dynamic_conv", "YOLOv8+GAM", 81.9),
        _variant("full", "", "Ours", 83.5),
    )),
    PaperTable("mobilenetv3_dilated_simam",
               "Table 4, RaFD recognition rate (%) at epoch 30 (no FER2013 ablation; full "
               "model 67.65 ± 0.18 on FER2013, Table 3)", (
        _variant("base", f"{_MOBILENET_BASE}, dilation, shortcut_maxpool", "Base", 87.4),
        _variant("first-conv", f"{_MOBILENET_BASE}, shortcut_dilation, shortcut_maxpool",
                 "First-conv", 89.0),
        _variant("shortcut", f"{_MOBILENET_BASE}, first_conv_dilation, shortcut_maxpool",
                 "Shortcut", 90.2),
        _variant("first-conv-shortcut", f"{_MOBILENET_BASE}, shortcut_maxpool",
                 "First-conv + shortcut", 91.9),
        _variant("full", "", "First-conv + shortcut + maxpool (proposed)", 92.1),
        _variant("se-for-simam", "simam_to_se", "(not in Table 4) SimAM -> SE alone"),
        _variant("batchnorm-for-groupnorm", "groupnorm", "(not in Table 4) GroupNorm -> BatchNorm alone"),
    )),
    PaperTable("dcrnet", "Table 8, AffectNet-7 accuracy (%); SE from Sec. 3", (
        _variant("backbone", "cbam, residual_modules, gamma, landmarks", "DenseNet121 (Backbone) only",
                 64.12),
        _variant("gamma", "cbam, residual_modules, landmarks", "+ Gamma Correction", 64.48),
        _variant("gamma-landmarks", "cbam, residual_modules", "+ Facial Landmarks", 64.71),
        _variant("gamma-landmarks-cbam", "residual_modules", "+ CBAM Modules", 65.21),
        _variant("full", "", "+ Residual Connections (65.40) / Full (65.80)", 65.80),
        _variant("se-for-cbam", "cbam_to_se", "CBAM -> SE (Sec. 3)", 65.43),
    )),
    PaperTable("vgg16_gcca_pdra", "Table 1, FER2013 accuracy (%)", (
        _variant("vgg16", "multi_feature_fusion, gcca, partial_decoder, reverse_attention, island_loss",
                 "Model 1 (VGG16)", 69.79),
        _variant("fusion", "gcca, partial_decoder, reverse_attention, island_loss",
                 "Model 2 (+ multi-feature fusion)", 71.53),
        _variant("fusion-gcca", "partial_decoder, reverse_attention, island_loss", "Model 3 (+ GCCA)", 73.85),
        _variant("fusion-gcca-pd", "reverse_attention, island_loss", "Model 4 (+ PD)", 73.84),
        _variant("fusion-gcca-pd-ra", "island_loss", "Model 5 (+ RA)", 73.97),
        _variant("full", "", "Model 6 (+ joint loss)", 74.08),
    )),
    PaperTable("mini_xception", "no ablation; Table 4, FER2013 accuracy (%) of the full model", (
        _variant("full", "", "Proposed Method", 71.12),
    )),
)}


def table_for(arch: str) -> PaperTable:
    architecture(arch)  # a ValueError naming the architectures for an unknown one
    return TABLES[arch]
