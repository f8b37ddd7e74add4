"""Files: networks read from PyTorch state_dicts, TorchScript, ONNX and our checkpoint, without running their code.

``files`` detects the format and applies the budgets; ``torchfile`` is the restricted unpickler of torch's
zip format; ``safetensors``, ``onnxfile``, ``script`` (TorchScript), ``modules`` (live torch modules),
``layers`` (plain state_dicts) and ``description`` (JSON layer descriptions) turn a source into layer
``steps``; ``fold`` writes them as the canonical Network (``conv``: convolution and pooling matrices)
within one ``budget`` per file.
"""

from .files import (CHECKPOINT_FORMAT, MAX_FILE_BYTES, MAX_FILE_ELEMENTS, MAX_PARAMETERS, Checkpoint, checkpoint_bytes,
                    file_budget, from_module, load, load_network, save_checkpoint, save_state_dict, save_torchscript,
                    to_module)

__all__ = ["Checkpoint", "load", "load_network", "save_checkpoint", "checkpoint_bytes", "from_module", "to_module",
           "save_state_dict", "save_torchscript", "file_budget", "MAX_FILE_BYTES", "MAX_FILE_ELEMENTS",
           "MAX_PARAMETERS", "CHECKPOINT_FORMAT"]
