"""How the page's graphs store the model's parameters (both compute in fp32): no heavy imports, so the CLI can list
the choices before torch loads."""

WEIGHT_FORMATS = ("fp32", "fp16")
DEFAULT_WEIGHTS = "fp16"  # half the bytes; the page's videos stay within the equality bound of the library's fp32 ones
# and read back as well (docs/browser.md, python -m benchmarks.browser)
