/* More ONNX operators for the importer: mappers written as those of onnx_ops.c (see
 * onnx_import.h and docs/onnx.md), listed in this table, which the dispatcher searches after
 * dc_onnx_ops_core. */
#include "onnx_import.h"

const onnx_op dc_onnx_ops_extra[] = {
    {NULL, NULL},
};
