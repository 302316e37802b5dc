/* deepc export MODEL.safetensors OUT.onnx [--opset N]: a deepc model file as an ONNX model for
 * ONNX Runtime and the other runtimes that read ONNX (docs/onnx.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "deepc.h"

static const char *const export_usage =
    "usage: deepc export MODEL.safetensors OUT.onnx [--opset N] [--batch-name NAME]\n"
    "Writes a saved model as an ONNX model file: each layer as standard ONNX operators, each\n"
    "parameter as an initialiser, inputs and output float32 with a symbolic batch axis.\n"
    "--opset N: the ONNX opset, 13 to 17 (default 17); --batch-name: the batch axis's name\n"
    "(default N). A layer ONNX cannot express is an error naming it, and nothing is written.\n"
    "Prints out=, opset=, layers=, bytes= unless the export fails.\n";

/* A whole number in [lo, hi] from text, else -1. */
static int parse_int(const char *s, int lo, int hi) {
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= lo && v <= hi ? (int)v : -1;
}

int dc_cli_export(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    dc_onnx_export_opts o = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return fputs(export_usage, stdout), 0;
        if (!strcmp(argv[i], "--opset") || !strcmp(argv[i], "--batch-name")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "deepc: export: %s needs a value\n%s", argv[i], export_usage);
                return 2;
            }
            if (argv[i][2] == 'o' && (o.opset = parse_int(argv[i + 1], 1, 1000)) < 0) {
                fprintf(stderr, "deepc: export: --opset takes a whole number, got \"%s\"\n", argv[i + 1]);
                return 2;
            }
            if (argv[i][2] == 'b') o.batch_name = argv[i + 1];
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "deepc: export: unknown option \"%s\"\n%s", argv[i], export_usage);
            return 2;
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            fprintf(stderr, "deepc: export: give one model and one output file\n%s", export_usage);
            return 2;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "deepc: export: missing arguments\n%s", export_usage);
        return 2;
    }
    dc_model *m = dc_model_load(in);
    if (!m) return dc_cli_fail("export", NULL);
    int rc = 0;
    if (dc_model_export_onnx(m, out, &o)) {
        rc = dc_cli_fail("export", NULL);
    } else {
        struct stat st;
        printf("out=%s\nopset=%d\nlayers=%d\nbytes=%lld\n", out, o.opset ? o.opset : 17, dc_model_num_layers(m),
               stat(out, &st) == 0 ? (long long)st.st_size : -1LL);
    }
    dc_model_free(m);
    return rc;
}
