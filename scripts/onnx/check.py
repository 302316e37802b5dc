#!/usr/bin/python3
"""Checks ONNX model files with ONNX's own checker (onnx.checker.check_model, full_check=True:
the graph, the operators' schemas and shape inference). Usage: check.py FILE.onnx ...
Exit 0: every file passes; 1: a file fails (the checker's message on stderr); 77: the onnx
Python package (Debian's python3-onnx) is missing, so nothing was checked."""
import sys

try:
    import onnx
except ImportError:
    print("check.py: the onnx Python package is not installed (apt-get install python3-onnx): skipped", file=sys.stderr)
    sys.exit(77)

bad = 0
for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        print(f"{path}: ok (opset {onnx.load(path).opset_import[0].version}, onnx {onnx.__version__})")
    except Exception as e:  # the checker's errors have several classes
        print(f"{path}: {type(e).__name__}: {e}", file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
