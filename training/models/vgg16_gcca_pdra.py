"""VGG16 + GCCA + partial decoder + reverse attention, after Jianzeng Chen and Ningning
Chen, "A Framework for Facial Expression Recognition Combining Contextual Information and
Attention Mechanism", Journal of Information Processing Systems (JIPS), 2024,
DOI 10.3745/JIPS.01.0107. Its parts: VGG16 (Simonyan and Zisserman, "Very Deep
Convolutional Networks for Large-Scale Image Recognition", ICLR 2015, arXiv:1409.1556),
GCCA (``layers.gcca``), the partial decoder (``layers.partial_decoder``), reverse
attention (``layers.reverse_attention``) and the island loss (Cai, Meng, Khan, Li,
O'Reilly and Tong, "Island Loss for Learning Discriminative Features in Facial
Expression Recognition", IEEE FG 2018, DOI 10.1109/FG.2018.00051).

- Backbone: VGG16's five convolution blocks without the last max-pool and the fully
  connected layers (Sec. 2.2), with a GCCA module closing every block (Sec. 2.3).
- Edge branch: block 2's output through a convolution with a single kernel, giving a
  one-channel edge map (Sec. 2.1).
- Partial decoder over blocks 3-5 only, giving the global map ``P_d`` (Sec. 2.4).
- Reverse attention on blocks 5, 4, 3 in turn, starting from ``P_d``: each erases the
  deeper map's region from its block, ``R_i = C_i * (1 - sigmoid(up(map_{i+1})))``,
  and adds a side output to the map (Sec. 2.5).
- Fusion: the refined features, the edge map and the decoder map (plus the last
  reverse-attention map, the refined prediction) are concatenated and fused into an
  embedding, and a linear classifier gives the logits.

Choices where the paper is vague, and why:

- Every convolution is followed by BatchNorm (the VGG16-BN variant): without ImageNet
  weights (none can be downloaded here) the network trains from scratch, which plain
  VGG16 does poorly. The edge convolution is 3x3.
- Fusion: each refined feature ``R_i`` is global-average-pooled (256 + 512 + 512
  values); each one-channel map (edge, decoder, final reverse-attention map) is
  average-pooled to a 4x4 grid, keeping where on the face it fires (a global average
  would keep one number). The concatenation goes through Dropout, a linear layer to a
  256-d embedding and PReLU; then the linear classifier. The paper's dropout rate is
  0.001 (Sec. 3.3), kept as given.
- The island loss acts on that embedding, the input of the classifier: Cai et al.
  apply it to the last feature layer before the softmax, and the FER paper says it
  makes "features of the same class close to one another". ``forward_embedding`` and
  ``classifier`` expose it for the joint loss ``CE + 0.005 x island`` (lambda1 = 7).
- Input 48x48 (FER2013's own size): blocks 1-5 run at 48, 24, 12, 6 and 3 pixels. Any
  side that is a multiple of 16 keeps every pooling exact.

Ablations (``ABLATIONS``, ``--ablate``) are the columns of Table 1 ("Comparison of the
experimental results for various improvement strategies"): multi-feature fusion, GCCA,
partial decoder (PD), reverse attention (RA), joint loss. Where the decoder is off but
reverse attention on, the first reverse attention starts from a 1x1 side output of
block 5, as in the reverse-attention paper, whose deepest side output comes from the top
layer. ``island_loss`` is a recipe switch (``--island-weight 0``).
"""

from __future__ import annotations

import torch
from torch import nn

from training.models.base import EmotionModel
from training.models.layers.conv_bn import conv_bn_relu
from training.models.layers.gcca import GCCA
from training.models.layers.partial_decoder import PartialDecoder
from training.models.layers.reverse_attention import ReverseAttention
from training.models.registry import checked_ablations, register

VGG16_BLOCKS: tuple[tuple[int, ...], ...] = (
    (64, 64),
    (128, 128),
    (256, 256, 256),
    (512, 512, 512),
    (512, 512, 512),
)
"""Output width of every 3x3 convolution, block by block (VGG16, configuration D)."""

EDGE_BLOCK = 2
DECODED_BLOCKS = (3, 4, 5)
REVERSE_ATTENTION_ORDER = (5, 4, 3)
MAP_GRID = 4
EMBEDDING_DIM = 256
PAPER_DROPOUT = 0.001


class VGGBlock(nn.Sequential):
    """[2x2 max-pool] + 3x3 conv-BN-ReLU per width + GCCA."""

    def __init__(
        self, in_channels: int, widths: tuple[int, ...], pool_first: bool, gcca: bool = True
    ) -> None:
        layers: list[nn.Module] = [nn.MaxPool2d(2)] if pool_first else []
        for width in widths:
            layers += conv_bn_relu(in_channels, width, 3)
            in_channels = width
        super().__init__(*layers, *([GCCA(in_channels)] if gcca else []))
        self.out_channels = in_channels


class VGG16GCCAPDRA(EmotionModel):
    def __init__(
        self,
        num_classes: int = 7,
        in_channels: int = 1,
        embedding_dim: int = EMBEDDING_DIM,
        dropout: float = PAPER_DROPOUT,
        fusion: bool = True,
        gcca: bool = True,
        decoder: bool = True,
        reverse_attention: bool = True,
    ) -> None:
        super().__init__()
        if not fusion and (decoder or reverse_attention):
            raise ValueError("without multi-feature fusion the head reads block 5 alone: ablate "
                             "partial_decoder and reverse_attention too (Table 1, model 1)")
        blocks, widths = [], {}
        for number, block_widths in enumerate(VGG16_BLOCKS, start=1):
            blocks.append(VGGBlock(in_channels, block_widths, pool_first=number > 1, gcca=gcca))
            in_channels = widths[number] = blocks[-1].out_channels
        self.blocks = nn.ModuleList(blocks)
        self.edge = nn.Conv2d(widths[EDGE_BLOCK], 1, 3, padding=1) if fusion else None
        self.decoder = PartialDecoder(tuple(widths[number] for number in DECODED_BLOCKS)) if decoder else None
        self.block5_map = None if decoder or not reverse_attention else nn.Conv2d(widths[5], 1, 1)
        self.reverse_attention = nn.ModuleList(
            ReverseAttention(widths[number]) for number in REVERSE_ATTENTION_ORDER
        ) if reverse_attention else None
        self.map_pool = nn.AdaptiveAvgPool2d(MAP_GRID)
        maps = 1 + int(decoder or reverse_attention) + int(reverse_attention)  # edge, global, RA map
        fused = (sum(widths[number] for number in REVERSE_ATTENTION_ORDER) + maps * MAP_GRID**2
                 if fusion else widths[5])
        self.fusion = nn.Sequential(nn.Dropout(dropout), nn.Linear(fused, embedding_dim), nn.PReLU())
        self.embedding_dim = embedding_dim
        self.classifier = nn.Linear(embedding_dim, num_classes)

    def block_outputs(self, images: torch.Tensor) -> dict[int, torch.Tensor]:
        """``{1: C_1, ..., 5: C_5}``, each block's GCCA-weighted output."""
        outputs, features = {}, images
        for number, block in enumerate(self.blocks, start=1):
            features = outputs[number] = block(features)
        return outputs

    def global_map(self, blocks: dict[int, torch.Tensor]) -> torch.Tensor | None:
        """``P_d`` from the decoder; ablated, block 5's side output, or None without RA."""
        if self.decoder is not None:
            return self.decoder(*(blocks[number] for number in DECODED_BLOCKS))
        return None if self.block5_map is None else self.block5_map(blocks[5])

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """The fused vector: pooled ``R_5, R_4, R_3``, then edge, decoder and final maps."""
        blocks = self.block_outputs(images)
        if self.edge is None:  # multi-feature fusion ablated: block 5 alone, as VGG16
            return blocks[5].mean(dim=(2, 3))
        edge_map = self.edge(blocks[EDGE_BLOCK])
        global_map = self.global_map(blocks)
        if self.reverse_attention is None:
            refined = [blocks[number].mean(dim=(2, 3)) for number in REVERSE_ATTENTION_ORDER]
            views = (edge_map,) if global_map is None else (edge_map, global_map)
        else:
            refined, side_map = [], global_map
            for number, attention in zip(REVERSE_ATTENTION_ORDER, self.reverse_attention):
                features, side_map = attention(blocks[number], side_map)
                refined.append(features.mean(dim=(2, 3)))
            views = (edge_map, global_map, side_map)
        maps = [self.map_pool(view).flatten(1) for view in views]
        return torch.cat(refined + maps, dim=1)

    def forward_embedding(self, features: torch.Tensor) -> torch.Tensor:
        """The (N, ``embedding_dim``) vector the island loss acts on."""
        return self.fusion(features)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_embedding(features))


ABLATIONS = {
    "multi_feature_fusion": "no edge branch nor fusion, the head reads block 5 alone; needs "
                            "partial_decoder and reverse_attention (Table 1 model 1, VGG16)",
    "gcca": "GCCA off in every block (Table 1 models 1-2)",
    "partial_decoder": "partial decoder off (Table 1 models 1-3)",
    "reverse_attention": "reverse attention off: blocks 5, 4, 3 pooled as they are (Table 1 models 1-4)",
    "island_loss": "island loss off, as --island-weight 0: softmax loss alone (Table 1 models 1-5)",
}
RECIPE_ABLATIONS = {"island_loss": {"island_weight": 0.0}}


@register(
    "vgg16_gcca_pdra",
    input_size=48,
    paper="Chen & Chen 2024, VGG16 + GCCA + partial decoder + reverse attention",
    paper_fer2013=74.1,
    ablations=ABLATIONS,
    recipe_ablations=RECIPE_ABLATIONS,
)
def vgg16_gcca_pdra(
    num_classes: int = 7, in_channels: int = 1, input_size: int = 48, ablate: frozenset[str] = frozenset()
) -> VGG16GCCAPDRA:
    ablate = checked_ablations("vgg16_gcca_pdra", ablate, ABLATIONS)
    if input_size < 16:
        raise ValueError(f"vgg16_gcca_pdra needs inputs of at least 16 pixels (4 pools); got {input_size}")
    return VGG16GCCAPDRA(num_classes, in_channels, fusion="multi_feature_fusion" not in ablate,
                         gcca="gcca" not in ablate, decoder="partial_decoder" not in ablate,
                         reverse_attention="reverse_attention" not in ablate)
