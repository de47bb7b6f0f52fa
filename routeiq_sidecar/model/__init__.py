"""The encoder runtime: tokenizer, encoders (ONNX MiniLM, static), batcher, cache, signals.

No policy."""
