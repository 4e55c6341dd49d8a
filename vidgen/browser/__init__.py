"""The default model in a visitor's browser (issue 37): the denoiser as ONNX, and the tables a page needs to compute
its inputs (font geometry, tokenizer, the schedule at the model's own steps) without Python."""
