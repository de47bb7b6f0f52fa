"""The encoder runtime: tokenizer, ONNX encoder, batcher, cache, signals (no policy)."""
