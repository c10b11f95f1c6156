"""Every architecture with its size and cost: parameters and MACs (``emotion-train models``)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from training.models import ARCHITECTURES, build_model


def count_parameters(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def count_macs(model: torch.nn.Module, in_channels: int, input_size: int) -> int:
    """Multiply-accumulates of one forward pass on one image (PyTorch's FLOP counter / 2)."""
    model = model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, in_channels, input_size, input_size))
    return counter.get_total_flops() // 2


def table_rows(in_channels: int = 1, num_classes: int = 7) -> list[dict]:
    rows = []
    for name, spec in sorted(ARCHITECTURES.items()):
        model = build_model(name, num_classes=num_classes, in_channels=in_channels)
        rows.append({
            "name": name,
            "parameters": count_parameters(model),
            "macs": count_macs(model, in_channels, spec.input_size),
            "input": f"{in_channels}x{spec.input_size}x{spec.input_size}",
            "paper_parameters": spec.paper_parameters,
            "paper_fer2013": spec.paper_fer2013,
            "paper": spec.paper,
        })
    return rows


def format_table(rows: list[dict], markdown: bool = False) -> str:
    """Aligned plain text for a terminal, or a markdown table for the README."""
    header = ("architecture", "params (M)", "MACs (M)", "input CxHxW", "paper params (M)",
              "paper FER2013 (%)", "paper")
    lines = [header]
    for row in rows:
        paper = f"{row['paper_parameters']:.2f}" if row["paper_parameters"] is not None else "-"
        reported = f"{row['paper_fer2013']:g}" if row["paper_fer2013"] is not None else "-"
        lines.append((row["name"], f"{row['parameters'] / 1e6:.3f}", f"{row['macs'] / 1e6:.1f}",
                      row["input"], paper, reported, row["paper"]))
    if markdown:
        return "\n".join(["| " + " | ".join(lines[0]) + " |", "|" + " --- |" * len(header)]
                         + ["| " + " | ".join(line) + " |" for line in lines[1:]])
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines
    )
