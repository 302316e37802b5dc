/* onnx_suite: runs ONNX's own backend test suite (as Debian's libonnx-testdata ships it) through
 * deepc's importer.
 *
 *   onnx_suite [DATA_DIR] [--filter TEXT] [--verbose]
 *
 * DATA_DIR (default /usr/share/libonnx-testdata/data) holds node/, pytorch-converted/,
 * pytorch-operator/ and simple/, each a folder per test: model.onnx and folders test_data_set_0,
 * 1, ... with input_*.pb and output_*.pb TensorProtos. A test whose operators are all claimed by the importer
 * (onnx_claimed_ops: its core and extra operator tables) is imported with dc_model_import_onnx_ex,
 * once per graph output, run on every input set, and compared to the expected outputs with
 * |got - want| <= atol + rtol * |want|, rtol 1e-3 and atol 1e-7 as ONNX's backend tests check.
 *
 * Every test falls in one class:
 *   skipped      an operator is not claimed (listed at the end, by how many tests each blocks);
 *   unsupported  the test cannot be a deepc model: an output or the first input that is not
 *                float32, a scalar first input (deepc takes axis 0 of every input as the batch);
 *   refused      the importer refused the model with an error (an attribute or layout its
 *                claimed operator does not take: Softmax over the batch axis, a grouped Conv...);
 *   passed / failed  run and compared; a crash, a prediction error or a wrong value fails.
 * Graph inputs after the first that the importer needs as constants (weights, shapes, indices,
 * which node tests give as inputs) are bound to each data set's values as initialisers when the
 * plain import is refused or such an input is not float32 (import_test with bind).
 * Each test runs in a child process, so a crash fails that test and the run goes on.
 * It prints a line per failed, refused and unsupported test, the per-operator table (markdown),
 * and `onnx_tests_passed=N onnx_tests_run=M ...`. Exit 1 when a test failed, 77 when the data
 * folder is missing, else 0. */
#define _GNU_SOURCE
#include "deepc.h"
#include "io/onnx_import.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Messages and paths are cut at their buffers on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define RTOL 1e-3
#define ATOL 1e-7
#define MAX_OPS 256
#define MAX_TESTS 4096

enum { R_PASS, R_FAIL, R_REFUSED, R_UNSUPPORTED, R_SKIPPED };

typedef struct {
    const char *name;
    int tests, passed, failed, refused, unsupported;
} op_stat;
typedef struct {
    char name[64];
    int blocks; /* tests where it is the only operator not claimed */
    int tests;  /* tests that use it */
} missing_stat;

static op_stat ops[MAX_OPS];
static int nops;
static missing_stat missing[MAX_OPS];
static int nmissing;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            uint8_t *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* A TensorProto file as floats (float, double and the integer types converted); NULL with a
 * reason in why when it cannot be read. */
static Onnx__TensorProto *read_tensor(const char *path, char *why, size_t whylen) {
    size_t len = 0;
    uint8_t *buf = read_all(path, &len);
    if (!buf) {
        snprintf(why, whylen, "cannot read %s", path);
        return NULL;
    }
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!t) snprintf(why, whylen, "%s does not decode as a TensorProto", path);
    return t;
}
static int64_t tensor_count(const Onnx__TensorProto *t) {
    int64_t c = 1;
    for (size_t i = 0; i < t->n_dims; i++) c *= t->dims[i];
    return c;
}
/* The elements of a float32 TensorProto (raw_data or float_data) into out[count]. */
static int tensor_floats(const Onnx__TensorProto *t, float *out, int64_t count) {
    if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) return -1;
    if (t->has_raw_data) {
        if ((int64_t)t->raw_data.len != count * 4) return -1;
        memcpy(out, t->raw_data.data, (size_t)count * 4);
        return 0;
    }
    if ((int64_t)t->n_float_data != count) return -1;
    memcpy(out, t->float_data, (size_t)count * 4);
    return 0;
}

static const char *type_name(int dt) {
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return "float32";
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return "float64";
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: return "float16";
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: return "bfloat16";
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return "int64";
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return "int32";
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return "int8";
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return "uint8";
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return "bool";
    case ONNX__TENSOR_PROTO__DATA_TYPE__STRING: return "string";
    default: return "non-float";
    }
}

/* Whether the importer claims op_type. */
static const char *claimed[MAX_OPS];
static int nclaimed;
static bool is_claimed(const char *op) {
    for (int i = 0; i < nclaimed; i++)
        if (!strcmp(claimed[i], op)) return true;
    return false;
}
static op_stat *stat_of(const char *op) {
    for (int i = 0; i < nops; i++)
        if (!strcmp(ops[i].name, op)) return &ops[i];
    return NULL;
}
static void note_missing(const char *op, bool alone) {
    int i = 0;
    while (i < nmissing && strcmp(missing[i].name, op)) i++;
    if (i == nmissing) {
        if (nmissing == MAX_OPS) return;
        snprintf(missing[nmissing++].name, sizeof missing[0].name, "%s", op);
    }
    missing[i].tests++;
    missing[i].blocks += alone;
}

/* Whether graph input i is an initialiser too (a constant, not an input, for the importer). */
static bool is_init(const Onnx__GraphProto *g, const char *name) {
    for (size_t j = 0; j < g->n_initializer; j++)
        if (!strcmp(g->initializer[j]->name, name)) return true;
    return false;
}

/* The model of the test in dir for output k and data set `set`: model.onnx itself, or with
 * bind, model.onnx whose graph inputs after the first are initialisers holding the data set's
 * values (written to a temporary file, removed after the import). NULL with why set. */
static dc_model *import_test(const char *dir, Onnx__ModelProto *mp, int k, int set, bool bind, char *why, size_t whylen) {
    Onnx__GraphProto *g = mp->graph;
    char path[4200];
    dc_onnx_import_opts o = {.output = g->output[k]->name};
    if (!bind) {
        snprintf(path, sizeof path, "%s/model.onnx", dir);
        dc_model *m = dc_model_import_onnx_ex(path, &o);
        if (!m) snprintf(why, whylen, "import: %s", dc_last_error());
        return m;
    }
    Onnx__TensorProto **keep = g->initializer, *bound[64];
    size_t nkeep = g->n_initializer, nb = 0;
    Onnx__TensorProto **inits = malloc((nkeep + 64) * sizeof *inits);
    if (!inits) return NULL;
    if (nkeep) memcpy(inits, keep, nkeep * sizeof *inits);
    int idx = 0;
    bool ok = true;
    for (size_t i = 0; i < g->n_input && ok; i++) {
        if (is_init(g, g->input[i]->name)) continue;
        if (idx++ == 0) continue;
        snprintf(path, sizeof path, "%s/test_data_set_%d/input_%d.pb", dir, set, idx - 1);
        Onnx__TensorProto *t = nb < 64 ? read_tensor(path, why, whylen) : NULL;
        if (!t) {
            ok = false;
            break;
        }
        free(t->name);
        t->name = strdup(g->input[i]->name);
        bound[nb++] = t;
        inits[nkeep + nb - 1] = t;
    }
    dc_model *m = NULL;
    if (ok) {
        g->initializer = inits;
        g->n_initializer = nkeep + nb;
        size_t len = onnx__model_proto__get_packed_size(mp);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf) onnx__model_proto__pack(mp, buf);
        g->initializer = keep;
        g->n_initializer = nkeep;
        snprintf(path, sizeof path, "/tmp/onnx_suite_%d.onnx", (int)getpid());
        FILE *f = buf ? fopen(path, "wb") : NULL;
        bool written = f && fwrite(buf, 1, len, f) == len;
        if (f && fclose(f)) written = false;
        free(buf);
        if (!written) snprintf(why, whylen, "cannot write %s", path);
        else if (!(m = dc_model_import_onnx_ex(path, &o))) snprintf(why, whylen, "import: %s", dc_last_error());
        remove(path);
    }
    for (size_t i = 0; i < nb; i++) onnx__tensor_proto__free_unpacked(bound[i], NULL);
    free(inits);
    return m;
}

/* Runs output k of the test in dir on every data set (the model imported once, or once a set
 * with bind): R_PASS, R_FAIL or R_REFUSED with the reason in why. */
static int run_output(const char *dir, Onnx__ModelProto *mp, int k, bool bind, char *why, size_t whylen) {
    char path[4096];
    const Onnx__GraphProto *g = mp->graph;
    dc_model *m = NULL;
    int result = R_PASS;
    int nsets = 0;
    for (int set = 0; result == R_PASS; set++) {
        snprintf(path, sizeof path, "%s/test_data_set_%d", dir, set);
        struct stat st;
        if (stat(path, &st)) break;
        nsets++;
        if (!m || bind) {
            dc_model_free(m);
            if (!(m = import_test(dir, mp, k, set, bind, why, whylen))) {
                result = R_REFUSED;
                break;
            }
        }
        int nx = dc_model_num_inputs(m);
        dc_tensor *xs[16] = {0};
        int64_t batch = -1;
        for (int i = 0; i < nx && i < 16 && result == R_PASS; i++) {
            snprintf(path, sizeof path, "%s/test_data_set_%d/input_%d.pb", dir, set, i);
            Onnx__TensorProto *t = read_tensor(path, why, whylen);
            if (!t) {
                result = R_FAIL;
                break;
            }
            int64_t shape[DC_MAX_DIMS];
            int r = dc_model_input_shape(m, i, shape);
            int64_t cnt = tensor_count(t);
            bool ok = t->n_dims >= 1 && t->n_dims <= DC_MAX_DIMS;
            int64_t per = 1;
            for (int d = 0; d < r; d++) per *= shape[d];
            if (ok && t->dims[0] > 0 && per * t->dims[0] != cnt) ok = false;
            if (!ok) {
                snprintf(why, whylen, "input %d has %lld elements, not a multiple of the model input's %lld", i, (long long)cnt,
                         (long long)per);
                result = R_FAIL;
            } else {
                int64_t xsh[DC_MAX_DIMS + 1];
                xsh[0] = t->dims[0];
                memcpy(xsh + 1, shape, (size_t)r * sizeof *shape);
                xs[i] = dc_tensor_new(r + 1, xsh);
                if (!xs[i] || tensor_floats(t, dc_tensor_data(xs[i]), cnt)) {
                    snprintf(why, whylen, "input %d: cannot read its floats", i);
                    result = R_FAIL;
                }
                if (batch < 0) batch = t->dims[0];
            }
            onnx__tensor_proto__free_unpacked(t, NULL);
        }
        if (result == R_PASS) {
            dc_tensor *y = dc_model_predict_n(m, nx, (const dc_tensor *const *)xs, batch > 0 ? batch : 1);
            snprintf(path, sizeof path, "%s/test_data_set_%d/output_%d.pb", dir, set, k);
            Onnx__TensorProto *t = y ? read_tensor(path, why, whylen) : NULL;
            if (!y) {
                snprintf(why, whylen, "predict: %s", dc_last_error());
                result = R_FAIL;
            } else if (!t) {
                result = R_FAIL;
            } else {
                int64_t cnt = tensor_count(t), got = dc_tensor_numel(y);
                float *want = malloc((size_t)(cnt ? cnt : 1) * sizeof *want);
                if (!want || tensor_floats(t, want, cnt)) {
                    snprintf(why, whylen, "output %d: cannot read its floats", k);
                    result = R_FAIL;
                } else if (got != cnt || (t->n_dims >= 1 && dc_tensor_shape(y)[0] != t->dims[0])) {
                    char a[128] = "", b[128] = "";
                    for (int d = 0; d < dc_tensor_ndim(y); d++)
                        snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", d ? "," : "", (long long)dc_tensor_shape(y)[d]);
                    for (size_t d = 0; d < t->n_dims; d++)
                        snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", d ? "," : "", (long long)t->dims[d]);
                    snprintf(why, whylen, "output \"%s\": shape [%s], expected [%s]", g->output[k]->name, a, b);
                    result = R_FAIL;
                } else {
                    const float *yd = dc_tensor_data(y);
                    double worst = 0;
                    int64_t at = -1;
                    for (int64_t j = 0; j < cnt; j++) {
                        double w = want[j], v = yd[j];
                        if (isnan(w) && isnan(v)) continue;
                        if (isinf(w) && v == w) continue;
                        double err = fabs(v - w), excess = err - (ATOL + RTOL * fabs(w));
                        if (!(excess <= 0) && (at < 0 || !(err <= worst))) {
                            worst = err;
                            at = j;
                        }
                    }
                    if (at >= 0) {
                        snprintf(why, whylen, "output \"%s\" set %d: element %lld is %.9g, expected %.9g (|err| %.3g)",
                                 g->output[k]->name, set, (long long)at, yd[at], want[at], worst);
                        result = R_FAIL;
                    }
                }
                free(want);
            }
            if (t) onnx__tensor_proto__free_unpacked(t, NULL);
            dc_tensor_free(y);
        }
        for (int i = 0; i < 16; i++) dc_tensor_free(xs[i]);
    }
    dc_model_free(m);
    if (result == R_PASS && !nsets) {
        snprintf(why, whylen, "no test_data_set_0");
        result = R_FAIL;
    }
    return result;
}

/* Imports and runs every output of the test in a child process; its class and reason come back
 * through a pipe. */
static int run_test(const char *dir, Onnx__ModelProto *mp, bool plain_ok, bool can_bind, bool *bound, char *why, size_t whylen) {
    int fd[2];
    if (pipe(fd)) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return R_FAIL;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return R_FAIL;
    }
    if (pid == 0) {
        close(fd[0]);
        char msg[1024] = "";
        int r = R_PASS;
        /* as the file is; else (inputs the importer needs as constants, or that cannot be deepc
         * inputs) with the inputs after the first bound to the data set's values */
        bool bind = !plain_ok;
        if (!bind)
            for (size_t k = 0; k < mp->graph->n_output && r == R_PASS; k++) r = run_output(dir, mp, (int)k, false, msg + 1, sizeof msg - 1);
        if ((bind || r == R_REFUSED) && can_bind) {
            bind = true;
            r = R_PASS;
            for (size_t k = 0; k < mp->graph->n_output && r == R_PASS; k++) r = run_output(dir, mp, (int)k, true, msg + 1, sizeof msg - 1);
        }
        msg[0] = (char)(r | (bind ? 16 : 0));
        ssize_t w = write(fd[1], msg, 1 + strlen(msg + 1));
        (void)w;
        close(fd[1]);
        /* exit, not _exit: a sanitizer's leak check runs at exit and its report changes the status */
        exit(0);
    }
    close(fd[1]);
    char msg[1024];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof msg - 1 && (r = read(fd[0], msg + n, sizeof msg - 1 - n)) > 0) n += (size_t)r;
    close(fd[0]);
    msg[n] = 0;
    int status = 0;
    waitpid(pid, &status, 0);
    if (n == 0) {
        if (WIFSIGNALED(status)) snprintf(why, whylen, "crashed (signal %d)", WTERMSIG(status));
        else snprintf(why, whylen, "the test process ended without a result (status %d)", status);
        return R_FAIL;
    }
    snprintf(why, whylen, "%s", msg + 1);
    *bound = (msg[0] & 16) != 0;
    if ((msg[0] & 15) == R_PASS && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        snprintf(why, whylen, "the test process ended with status %d after passing (a sanitizer's report above)", status);
        return R_FAIL;
    }
    return msg[0] & 15;
}

/* Whether a graph input can be a deepc input: a float32 tensor of rank 1 or more (its first
 * axis is the batch); why says what it is otherwise. */
static bool input_ok(const Onnx__ValueInfoProto *v, char *why, size_t whylen) {
    const Onnx__TypeProto *tp = v->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
        snprintf(why, whylen, "input \"%s\" is not a tensor", v->name);
        return false;
    }
    if (tp->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        snprintf(why, whylen, "input \"%s\" is %s; deepc's inputs are float32", v->name, type_name(tp->tensor_type->elem_type));
        return false;
    }
    if (tp->tensor_type->shape && tp->tensor_type->shape->n_dim == 0) {
        snprintf(why, whylen, "input \"%s\" is a scalar; deepc takes the first axis of an input as the batch", v->name);
        return false;
    }
    return true;
}

/* Whether the test can be a deepc model: float32 outputs, and a first input deepc can take.
 * *plain_ok: every input can be a deepc input; *can_bind: there are inputs after the first,
 * which the run may bind to the data set's values. */
static bool fits(const Onnx__GraphProto *g, bool *plain_ok, bool *can_bind, char *why, size_t whylen) {
    for (size_t i = 0; i < g->n_output; i++) {
        const Onnx__TypeProto *tp = g->output[i]->type;
        if (tp && tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
            snprintf(why, whylen, "output \"%s\" is not a tensor", g->output[i]->name);
            return false;
        }
        if (tp && tp->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
            snprintf(why, whylen, "output \"%s\" is %s; deepc's outputs are float32", g->output[i]->name,
                     type_name(tp->tensor_type->elem_type));
            return false;
        }
    }
    int n = 0;
    char tmp[512];
    *plain_ok = true;
    for (size_t i = 0; i < g->n_input; i++) {
        if (is_init(g, g->input[i]->name)) continue;
        if (n++ == 0) {
            if (!input_ok(g->input[i], why, whylen)) return false;
        } else if (!input_ok(g->input[i], tmp, sizeof tmp)) *plain_ok = false;
    }
    if (!n) {
        snprintf(why, whylen, "the graph has no input besides its initialisers");
        return false;
    }
    *can_bind = n > 1;
    return true;
}

int main(int argc, char **argv) {
    const char *root = "/usr/share/libonnx-testdata/data", *filter = NULL;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--verbose")) verbose = true;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: onnx_suite [DATA_DIR] [--filter TEXT] [--verbose]\n");
            return 2;
        } else root = argv[i];
    }
    struct stat st;
    if (stat(root, &st) || !S_ISDIR(st.st_mode)) {
        printf("onnx_suite: skipped: %s is missing (Debian: apt-get install libonnx-testdata)\n", root);
        return 77;
    }
    nclaimed = onnx_claimed_ops(claimed, MAX_OPS);
    for (int i = 0; i < nclaimed; i++) ops[nops++].name = claimed[i];

    static const char *const groups[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
    int n_bound = 0, n_pass = 0, n_fail = 0, n_refused = 0, n_unsup = 0, n_skip = 0, n_total = 0;
    for (size_t gi = 0; gi < sizeof groups / sizeof *groups; gi++) {
        char gdir[4096];
        snprintf(gdir, sizeof gdir, "%s/%s", root, groups[gi]);
        DIR *d = opendir(gdir);
        if (!d) continue;
        char **names = NULL;
        size_t nn = 0, cap = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (strncmp(e->d_name, "test_", 5)) continue;
            if (nn == cap) {
                cap = cap ? 2 * cap : 256;
                char **nb = realloc(names, cap * sizeof *names);
                if (!nb) return 1;
                names = nb;
            }
            names[nn++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, nn, sizeof *names, cmp_str);
        for (size_t ti = 0; ti < nn; ti++) {
            char dir[4096], path[4200], why[1024] = "";
            snprintf(dir, sizeof dir, "%s/%s", gdir, names[ti]);
            if (filter && !strstr(dir, filter)) continue;
            snprintf(path, sizeof path, "%s/model.onnx", dir);
            size_t len = 0;
            uint8_t *buf = read_all(path, &len);
            Onnx__ModelProto *mp = buf ? onnx__model_proto__unpack(NULL, len, buf) : NULL;
            free(buf);
            if (!mp || !mp->graph) {
                if (mp) onnx__model_proto__free_unpacked(mp, NULL);
                continue;
            }
            n_total++;
            const Onnx__GraphProto *g = mp->graph;
            /* the operators it uses, each once */
            char used[64][96];
            int nused = 0, nunclaimed = 0;
            for (size_t i = 0; i < g->n_node && nused < 64; i++) {
                const Onnx__NodeProto *n = g->node[i];
                char op[96];
                if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx")) snprintf(op, sizeof op, "%s:%s", n->domain, n->op_type);
                else snprintf(op, sizeof op, "%s", n->op_type);
                bool seen = false;
                for (int j = 0; j < nused && !seen; j++) seen = !strcmp(used[j], op);
                if (seen) continue;
                memcpy(used[nused++], op, sizeof op);
                nunclaimed += !is_claimed(op);
            }
            if (nunclaimed) {
                const char *first = NULL;
                for (int j = 0; j < nused; j++)
                    if (!is_claimed(used[j])) {
                        note_missing(used[j], nunclaimed == 1);
                        if (!first) first = used[j];
                    }
                n_skip++;
                if (verbose) printf("skip    %s/%s: %s not claimed\n", groups[gi], names[ti], first);
                onnx__model_proto__free_unpacked(mp, NULL);
                continue;
            }
            bool plain_ok = false, can_bind = false, bound = false;
            int r = fits(g, &plain_ok, &can_bind, why, sizeof why) ? run_test(dir, mp, plain_ok, can_bind, &bound, why, sizeof why)
                                                                  : R_UNSUPPORTED;
            n_bound += bound && r == R_PASS;
            const char *tag = r == R_PASS ? "pass" : r == R_FAIL ? "FAIL" : r == R_REFUSED ? "refused" : "unsupported";
            if (r != R_PASS || verbose) printf("%-7s %s/%s: %s%s\n", tag, groups[gi], names[ti], r == R_PASS ? "ok" : why,
                                              bound ? " (inputs after the first bound to constants)" : "");
            n_pass += r == R_PASS;
            n_fail += r == R_FAIL;
            n_refused += r == R_REFUSED;
            n_unsup += r == R_UNSUPPORTED;
            for (int j = 0; j < nused; j++) {
                op_stat *s = stat_of(used[j]);
                if (!s) continue;
                s->tests++;
                s->passed += r == R_PASS;
                s->failed += r == R_FAIL;
                s->refused += r == R_REFUSED;
                s->unsupported += r == R_UNSUPPORTED;
            }
            onnx__model_proto__free_unpacked(mp, NULL);
        }
        for (size_t i = 0; i < nn; i++) free(names[i]);
        free(names);
    }

    printf("\n| operator | tests | run | passed | failed | refused | unsupported |\n|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nops; i++) {
        const op_stat *s = &ops[i];
        int run = s->passed + s->failed;
        printf("| %s | %d | %d | %d | %d | %d | %d |\n", s->name, s->tests, run, s->passed, s->failed, s->refused, s->unsupported);
    }
    /* the operators not claimed, by how many tests each alone keeps from running */
    for (int i = 1; i < nmissing; i++)
        for (int j = i; j > 0 && (missing[j].blocks > missing[j - 1].blocks ||
                                  (missing[j].blocks == missing[j - 1].blocks && missing[j].tests > missing[j - 1].tests));
             j--) {
            missing_stat t = missing[j];
            missing[j] = missing[j - 1];
            missing[j - 1] = t;
        }
    printf("\nnot claimed (tests it alone blocks / tests using it):");
    for (int i = 0; i < nmissing && i < 80; i++) printf("%s %s %d/%d", i ? "," : "", missing[i].name, missing[i].blocks, missing[i].tests);
    printf("\n\nonnx_tests_passed=%d onnx_tests_run=%d onnx_tests_failed=%d onnx_tests_refused=%d onnx_tests_unsupported=%d "
           "onnx_tests_skipped=%d onnx_tests_total=%d onnx_tests_passed_bound=%d\n",
           n_pass, n_pass + n_fail, n_fail, n_refused, n_unsup, n_skip, n_total, n_bound);
    return n_fail ? 1 : 0;
}
