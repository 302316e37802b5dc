/* deepc import IN.onnx OUT.safetensors: an ONNX model (PyTorch's torch.onnx.export, ...) as a
 * deepc model file, which deepc predict, evaluate, info and the library (dc_model_load) read
 * and which trains further after dc_model_compile. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "deepc.h"

static const char *const import_usage =
    "usage: deepc import [--output NAME] IN.onnx OUT.safetensors\n"
    "Converts an ONNX model into a deepc model file: its operators become deepc layers and its\n"
    "weights their parameters (docs/onnx.md lists the operators). The graph's inputs keep their\n"
    "first axis as the batch. --output NAME takes the graph value NAME as the model's output\n"
    "(default: the graph's first output). Prints the model's summary unless --quiet.\n";

int dc_cli_import(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *output = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return fputs(import_usage, stdout), 0;
        if (!strcmp(argv[i], "--output") && i + 1 < argc) output = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "deepc import: unknown option \"%s\"\n%s", argv[i], import_usage);
            return 2;
        } else if (!in) in = argv[i];
        else if (!out) out = argv[i];
        else {
            fprintf(stderr, "deepc import: one input and one output file\n%s", import_usage);
            return 2;
        }
    }
    if (!in || !out) {
        fputs(import_usage, stderr);
        return 2;
    }
    dc_onnx_import_opts o = {.output = output};
    dc_model *m = dc_model_import_onnx_ex(in, &o);
    if (!m) return dc_cli_fail("import", NULL);
    if (!dc_cli_quiet) dc_model_summary(m, stdout);
    int rc = 0;
    if (dc_model_save(m, out)) rc = dc_cli_fail("import", NULL);
    else
        printf("layers=%d params=%lld out=%s\n", dc_model_num_layers(m), (long long)dc_model_param_count(m), out);
    dc_model_free(m);
    return rc;
}
