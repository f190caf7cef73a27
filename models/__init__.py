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
Inputs are (B, 1, n_mels, T) float tensors, T >= 32, of the model's dtype and
device; a wrong shape, dtype or device, or NaN/inf values raise ValueError at
the model boundary.

Example (the paper's protocol)::

    cnn = models.build("cnn-fc", "small")
    train(cnn, cnn.trainable_parameters())          # cross-entropy on the logits
    dfe = models.build("dfe", "small"); dfe.load_classifier(cnn)
    train(dfe, dfe.trainable_parameters())          # DCL stage 1
    dcl = models.build("dcl", "small"); dcl.load_stage1(dfe)
    train(dcl, dcl.trainable_parameters())          # DCL stage 2
    dsl = models.build("dsl", "small"); dsl.load_classifier(cnn)
    train(dsl, dsl.trainable_parameters())          # end to end, shared weights

where ``train`` calls ``model.train()`` (frozen parts stay in eval mode) and runs
Adam on the given parameters; evaluate under ``model.eval()``. A whole model
saves and loads with ``state_dict()``; freezing is set by construction.
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
