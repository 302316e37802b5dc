#!/usr/bin/python3
"""Writes the small ONNX files that tests/test_onnx_extra.c imports: one graph per operator of the
importer's extra table that the test checks by value, and the files its errors are made of.

Usage: /usr/bin/python3 scripts/onnx/gen_extra_fixtures.py [OUT_DIR]   (default tests/data/onnx_extra)
Needs Debian's python3-onnx. Every graph takes the float32 input "x" of shape [N, 2, 3] (batch
first, N free) unless its name says otherwise, and outputs "y".
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model(out, name, nodes, inits=(), inputs=None, opset=13, out_shape=None, xshape=("N", 2, 3)):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(xshape))
    ins = [x] + list(inputs or [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)
    g = helper.make_graph(nodes, name, ins, [y], [numpy_helper.from_array(np.asarray(v, np.float32 if k != "i" else np.int64), n)
                                                 for n, v, k in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="gen_extra_fixtures.py")
    onnx.save(m, os.path.join(out, name + ".onnx"))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "onnx_extra")
    os.makedirs(out, exist_ok=True)
    N = helper.make_node
    # imported and checked by value
    model(out, "pow", [N("Pow", ["x", "e"], ["y"])], [("e", 2.0, "f")])
    model(out, "clip", [N("Clip", ["x", "lo", "hi"], ["y"])], [("lo", -0.5, "f"), ("hi", 0.5, "f")])
    model(out, "clip6", [N("Clip", ["x"], ["y"], min=-0.25, max=0.75)], opset=6)
    model(out, "sum3", [N("Sum", ["x", "x", "x"], ["y"])])
    model(out, "mean2", [N("Mean", ["x", "x"], ["y"])])
    model(out, "max_min", [N("Neg", ["x"], ["n"]), N("Max", ["x", "n"], ["a"]), N("Min", ["x", "n"], ["b"]),
                           N("Sub", ["a", "b"], ["y"])])
    model(out, "reduce_l2", [N("ReduceL2", ["x"], ["y"], axes=[2], keepdims=0)], opset=13)
    model(out, "split", [N("Split", ["x"], ["a", "y"], axis=2, split=[1, 2])], opset=11)
    model(out, "prelu", [N("PRelu", ["x", "s"], ["y"])], [("s", [[0.1, 0.2, 0.3]], "f")])
    model(out, "instance_norm", [N("Unsqueeze", ["x", "ax"], ["u"]), N("InstanceNormalization", ["u", "sc", "b"], ["v"], epsilon=1e-5),
                                 N("Squeeze", ["v", "ax"], ["y"])],
          [("ax", [3], "i"), ("sc", [2.0, 0.5], "f"), ("b", [0.1, -0.1], "f")])
    model(out, "upsample", [N("Resize", ["x", "", "sc"], ["y"], mode="nearest")], [("sc", [1, 1, 2, 3], "f")], xshape=("N", 1, 2, 3))
    model(out, "depth_to_space", [N("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD")], xshape=("N", 4, 1, 2))
    model(out, "expand", [N("Expand", ["x", "s"], ["y"])], [("s", [2, 3], "i")], xshape=("N", 2, 1))
    # PyTorch's attention scale: x / sqrt(size of the last axis), the Sqrt folded on the shape
    model(out, "fold_sqrt", [N("Shape", ["x"], ["s"]), N("Gather", ["s", "i"], ["d"], axis=0), N("Cast", ["d"], ["f"], to=1),
                             N("Sqrt", ["f"], ["r"]), N("Neg", ["r"], ["m"]), N("Div", ["x", "m"], ["y"])], [("i", 2, "i")])
    # errors
    e = helper.make_tensor_value_info("e", TensorProto.FLOAT, ["N", 2, 3])
    model(out, "err_pow_graph_exponent", [N("Pow", ["x", "e"], ["y"])], inputs=[e])
    model(out, "err_pow_varying_exponent", [N("Pow", ["x", "e"], ["y"])], [("e", [1.0, 2.0, 3.0], "f")])
    model(out, "err_clip_bounds", [N("Clip", ["x", "lo", "hi"], ["y"])], [("lo", 1.0, "f"), ("hi", -1.0, "f")])
    model(out, "err_split_batch", [N("Split", ["x"], ["a", "y"], axis=0)], opset=11)
    model(out, "err_split_sizes", [N("Split", ["x"], ["a", "y"], axis=2, split=[1, 1])], opset=11)
    model(out, "err_prelu_batch", [N("PRelu", ["x", "s"], ["y"])], [("s", np.ones((4, 2, 3)), "f")])
    model(out, "err_celu_alpha", [N("Celu", ["x"], ["y"], alpha=0.0)])
    model(out, "err_shrink_lambd", [N("Shrink", ["x"], ["y"], lambd=-1.0)], opset=13)
    model(out, "err_max_shapes", [N("ReduceSum", ["x"], ["r"], axes=[2], keepdims=1), N("Max", ["x", "r"], ["y"])], opset=12)
    model(out, "err_instance_norm_scale", [N("InstanceNormalization", ["x", "e", "e"], ["y"])], inputs=[e])
    model(out, "err_resize_linear", [N("Resize", ["x", "", "sc"], ["y"], mode="linear")], [("sc", [1, 1, 2, 2], "f")],
          xshape=("N", 1, 2, 3))
    model(out, "err_resize_factor", [N("Resize", ["x", "", "sc"], ["y"], mode="nearest")], [("sc", [1, 1, 1.5, 2], "f")],
          xshape=("N", 1, 2, 3))
    model(out, "err_depth_to_space_rank", [N("DepthToSpace", ["x"], ["y"], blocksize=2)])
    model(out, "err_expand_batch", [N("Expand", ["x", "s"], ["y"])], [("s", [3, 2, 3], "i")])
    model(out, "err_global_max_pool_rank", [N("Flatten", ["x"], ["f"]), N("GlobalMaxPool", ["f"], ["y"])])


if __name__ == "__main__":
    main()
