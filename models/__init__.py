"""The paper's audio event recognition systems on top of dyconv.

``models.build(name, config="paper", n_classes=10, n_mels=40)`` builds
"cnn-fc" | "sfe" | "dfe" | "dcl" | "dsl". Training-time API:

* CNN-FC: optimise ``model.trainable_parameters()`` (all of them).
* SFE / DFE / DSL: ``model.load_classifier(trained_cnn_fc)`` (the classifier is
  frozen from construction and stays in eval mode), then optimise
  ``model.trainable_parameters()`` (the mask network(s) only).
* DCL: train a DFE first (stage 1); then ``dcl.load_stage1(dfe)`` (copies the
  DFE's mask network and classifier; both stay frozen) and optimise
  ``dcl.trainable_parameters()`` (stage 2 only).

``model.enhance(x) -> (x_enhanced, masks)`` gives the masks for the paper's Figure 3.
"""
from models.build import NAMES, build
from models.classifier import CNNFC
from models.configs import CONFIGS, ModelConfig
from models.dual_stage import DCL, DSL
from models.dynamic_layer import DynamicFilterLayer, set_conv_norm_act
from models.enhanced import EnhancedClassifier
from models.enhancers import DFE, SFE
from models.generator import FilterGenerator, GeneratedFilters
from models.maskers import DynamicMasker, StaticMasker
from models.shapes import MIN_FRAMES, MIN_MELS

__all__ = [
    "build", "NAMES", "CONFIGS", "ModelConfig", "CNNFC", "SFE", "DFE", "DCL", "DSL",
    "EnhancedClassifier", "DynamicMasker", "StaticMasker", "FilterGenerator", "GeneratedFilters",
    "DynamicFilterLayer", "set_conv_norm_act", "MIN_FRAMES", "MIN_MELS",
]
