"""Build-time only: BERT weights -> ONNX graph, quantisation. Never imported by serving."""
