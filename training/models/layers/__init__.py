"""Attention and other blocks shared by the architectures, each named as its paper names it."""
