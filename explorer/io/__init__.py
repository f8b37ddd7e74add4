"""Files: networks read from PyTorch state_dicts, TorchScript, ONNX and our checkpoint, without running their code.

``files`` detects the format and applies the budgets; ``torchfile`` is the restricted unpickler of torch's
zip format; ``onnxfile`` reads ONNX graphs; ``layers`` folds a layer sequence into the canonical Network.
"""

from .files import (CHECKPOINT_FORMAT, MAX_FILE_BYTES, MAX_PARAMETERS, Checkpoint, checkpoint_bytes, from_module,
                    load, load_network, save_checkpoint, save_state_dict, save_torchscript, to_module)

__all__ = ["Checkpoint", "load", "load_network", "save_checkpoint", "checkpoint_bytes", "from_module", "to_module",
           "save_state_dict", "save_torchscript", "MAX_FILE_BYTES", "MAX_PARAMETERS", "CHECKPOINT_FORMAT"]
