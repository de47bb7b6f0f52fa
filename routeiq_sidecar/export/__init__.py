"""Build-time only: BERT weights -> ONNX graph, quantisation, static distillation.

Never imported by serving."""
