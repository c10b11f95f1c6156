"""Backbones that more than a classifier head is built on (written here: no torchvision)."""
