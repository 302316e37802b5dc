/* deepc train CONFIG and deepc summary CONFIG: a model trained from a configuration file, with
 * Keras's progress, the model, its history (CSV) and learning curves (SVG) written, and the
 * final metrics as key=value lines. */
#include "cli.h"
#include "config.h"

#include "io/schema_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The folder part of path created if missing (one level, as `deepc train` writes under out/). */
static dc_status make_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return DC_OK;
    char dir[1024];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return dc_error(DC_ERR_IO, "%s: cannot create the folder: %s", dir, strerror(errno));
    return DC_OK;
}

/* "examples/configs/iris.json" -> "iris" */
static void stem_of(const char *path, char *out, size_t size) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    int n = dot && dot > b ? (int)(dot - b) : (int)strlen(b);
    snprintf(out, size, "%.*s", n, b);
}

typedef struct train_args {
    const char *config;
    const char *outdir; /* --out DIR: where the outputs go unless the configuration names them */
    int epochs;         /* --epochs N: overrides fit.epochs (0 = keep) */
} train_args;

static int parse_args(int argc, char **argv, train_args *a, const char *usage) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1000000) {
                fprintf(stderr, "deepc: %s: --epochs must be a whole number in [1, 1000000], got \"%s\"\n", argv[0], argv[i]);
                return 2;
            }
            a->epochs = (int)v;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            a->outdir = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "deepc: %s: unknown option \"%s\" (deepc %s --help)\n", argv[0], argv[i], argv[0]);
            return 2;
        } else if (!a->config) {
            a->config = argv[i];
        } else {
            fprintf(stderr, "deepc: %s: one configuration file, got \"%s\" too (deepc %s --help)\n", argv[0], argv[i], argv[0]);
            return 2;
        }
    }
    if (!a->config) {
        fprintf(stderr, "deepc: %s: no configuration file given\n%s", argv[0], usage);
        return 2;
    }
    return -1; /* go on */
}

static const char *const summary_usage = "usage: deepc summary CONFIG.json\n"
                                         "Builds the configuration's model and prints its layers, output shapes and\n"
                                         "parameter counts, without loading data or training.\n";

int dc_cli_summary(int argc, char **argv) {
    train_args a;
    int rc = parse_args(argc, argv, &a, summary_usage);
    if (rc >= 0) return rc;
    dc_config c;
    if (dc_config_read(a.config, &c)) return dc_cli_fail("summary", NULL);
    dc_model *m = dc_config_model(&c);
    if (!m) rc = dc_cli_fail("summary", NULL);
    else dc_model_summary(m, stdout);
    dc_model_free(m);
    dc_config_free(&c);
    return m ? 0 : rc;
}

/* The "fit" section into opts and callbacks (each freed by the caller). */
typedef struct fit_plan {
    dc_fit_opts o;
    dc_callback *cbs[3];
    int ncb;
    bool mixed;
} fit_plan;

static dc_status read_fit(const dc_config *c, fit_plan *p) {
    p->o = dc_fit_defaults();
    p->ncb = 0;
    p->mixed = false;
    const cJSON *fj = cJSON_GetObjectItemCaseSensitive(c->root, "fit");
    if (!fj) return DC_OK;
    if (!cJSON_IsObject(fj)) return dc_config_bad(c, "top level", "\"fit\" must be an object");
    static const char *const keys[] = {"epochs", "batch_size", "validation_split", "shuffle", "seed", "verbose", "early_stopping",
                                       "checkpoint", "best_model", "mixed_precision", NULL};
    dc_status s = dc_config_keys(c, "fit", fj, keys);
    if (s) return s;
    dc_where w = {c->path, "fit"};
    int64_t epochs, batch, seed, verbose;
    double vs;
    if (dc_json_int(&w, fj, "epochs", 1, 1000000, 1, false, &epochs) || dc_json_int(&w, fj, "batch_size", 1, INT64_C(1) << 30, 32, false, &batch) ||
        dc_json_num(&w, fj, "validation_split", 0, 0.99, 0, false, &vs) || dc_json_bool(&w, fj, "shuffle", true, &p->o.shuffle) ||
        dc_json_int(&w, fj, "seed", 0, INT64_C(1) << 53, 42, false, &seed) || dc_json_int(&w, fj, "verbose", 0, 2, 1, false, &verbose) ||
        dc_json_bool(&w, fj, "mixed_precision", false, &p->mixed))
        return DC_ERR_FORMAT;
    p->o.epochs = (int)epochs;
    p->o.batch_size = batch;
    p->o.validation_split = (float)vs;
    p->o.seed = (uint64_t)seed;
    p->o.verbose = (int)verbose;
    const cJSON *es = cJSON_GetObjectItemCaseSensitive(fj, "early_stopping");
    if (es) {
        static const char *const ek[] = {"monitor", "patience", "min_delta", "restore_best_weights", NULL};
        dc_where we = {c->path, "fit.early_stopping"};
        const char *mon = "val_loss";
        int64_t patience;
        double delta;
        bool restore;
        if (!cJSON_IsObject(es)) return dc_config_bad(c, "fit", "\"early_stopping\" must be an object {\"monitor\": \"val_loss\", \"patience\": 3}");
        if ((s = dc_config_keys(c, "fit.early_stopping", es, ek))) return s;
        if (cJSON_GetObjectItemCaseSensitive(es, "monitor") && !(mon = dc_json_str(&we, es, "monitor", true))) return DC_ERR_FORMAT;
        if (dc_json_int(&we, es, "patience", 0, 1000000, 0, false, &patience) || dc_json_num(&we, es, "min_delta", 0, 1e30, 0, false, &delta) ||
            dc_json_bool(&we, es, "restore_best_weights", false, &restore))
            return DC_ERR_FORMAT;
        if (!(p->cbs[p->ncb] = dc_early_stopping_callback(mon, (int)patience, delta, restore))) return dc_last_status();
        p->ncb++;
    }
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(fj, "checkpoint");
    if (ck) {
        static const char *const kk[] = {"path", "every", "resume", NULL};
        dc_where wc = {c->path, "fit.checkpoint"};
        int64_t every;
        bool resume;
        if (!cJSON_IsObject(ck)) return dc_config_bad(c, "fit", "\"checkpoint\" must be an object {\"path\": \"out/run.ckpt\", \"resume\": true}");
        if ((s = dc_config_keys(c, "fit.checkpoint", ck, kk))) return s;
        const char *path = dc_json_str(&wc, ck, "path", true);
        if (!path || dc_json_int(&wc, ck, "every", 1, 1000000, 1, false, &every) || dc_json_bool(&wc, ck, "resume", true, &resume))
            return DC_ERR_FORMAT;
        if ((s = make_parent(path))) return s;
        if (!(p->cbs[p->ncb] = dc_checkpoint_callback(path, (int)every, resume))) return dc_last_status();
        p->ncb++;
    }
    const cJSON *bm = cJSON_GetObjectItemCaseSensitive(fj, "best_model");
    if (bm) {
        static const char *const bk[] = {"path", "monitor", NULL};
        dc_where wb = {c->path, "fit.best_model"};
        if (!cJSON_IsObject(bm)) return dc_config_bad(c, "fit", "\"best_model\" must be an object {\"path\": \"out/best.safetensors\"}");
        if ((s = dc_config_keys(c, "fit.best_model", bm, bk))) return s;
        const char *path = dc_json_str(&wb, bm, "path", true);
        const char *mon = "val_loss";
        if (!path || (cJSON_GetObjectItemCaseSensitive(bm, "monitor") && !(mon = dc_json_str(&wb, bm, "monitor", true)))) return DC_ERR_FORMAT;
        if ((s = make_parent(path))) return s;
        if (!(p->cbs[p->ncb] = dc_best_model_callback(path, mon))) return dc_last_status();
        p->ncb++;
    }
    return DC_OK;
}

/* The output paths: the configuration's "output" section, else <outdir>/<stem>... */
typedef struct out_paths {
    char model[1024], history[1024], curves[1024], test_x[1024], test_y[1024];
    bool test_data;
} out_paths;

static dc_status read_output(const dc_config *c, const char *outdir, out_paths *o) {
    char stem[256];
    stem_of(c->path, stem, sizeof stem);
    const char *dir = outdir ? outdir : "out";
    snprintf(o->model, sizeof o->model, "%s/%s.safetensors", dir, stem);
    snprintf(o->history, sizeof o->history, "%s/%s_history.csv", dir, stem);
    snprintf(o->curves, sizeof o->curves, "%s/%s_curves.svg", dir, stem);
    snprintf(o->test_x, sizeof o->test_x, "%s/%s_test_x.npy", dir, stem);
    snprintf(o->test_y, sizeof o->test_y, "%s/%s_test_y.npy", dir, stem);
    o->test_data = false;
    const cJSON *oj = cJSON_GetObjectItemCaseSensitive(c->root, "output");
    if (!oj) return DC_OK;
    if (!cJSON_IsObject(oj)) return dc_config_bad(c, "top level", "\"output\" must be an object");
    static const char *const keys[] = {"model", "history", "curves", "test_data", NULL};
    dc_status s = dc_config_keys(c, "output", oj, keys);
    if (s) return s;
    dc_where w = {c->path, "output"};
    struct {
        const char *key;
        char *dst;
    } f[] = {{"model", o->model}, {"history", o->history}, {"curves", o->curves}};
    for (int i = 0; i < 3; i++) {
        if (!cJSON_GetObjectItemCaseSensitive(oj, f[i].key)) continue;
        const char *v = dc_json_str(&w, oj, f[i].key, true);
        if (!v) return DC_ERR_FORMAT;
        if (outdir && v[0] != '/') snprintf(f[i].dst, 1024, "%s/%s", outdir, strrchr(v, '/') ? strrchr(v, '/') + 1 : v);
        else snprintf(f[i].dst, 1024, "%s", v);
    }
    return dc_json_bool(&w, oj, "test_data", false, &o->test_data) ? DC_ERR_FORMAT : DC_OK;
}

static const char *const train_usage =
    "usage: deepc train CONFIG.json [--epochs N] [--out DIR]\n"
    "Trains the model a configuration file describes on the data it names, printing Keras's\n"
    "progress, and writes the model (OUT/NAME.safetensors), its history (OUT/NAME_history.csv)\n"
    "and learning curves (OUT/NAME_curves.svg); OUT is out/ unless --out or the file's \"output\"\n"
    "says otherwise, NAME the configuration's file name. Ends with the test metrics as\n"
    "key=value lines. --epochs overrides the file's fit.epochs. The format: docs/cli.md.\n";

int dc_cli_train(int argc, char **argv) {
    train_args a;
    int rc = parse_args(argc, argv, &a, train_usage);
    if (rc >= 0) return rc;
    dc_config c;
    if (dc_config_read(a.config, &c)) return dc_cli_fail("train", NULL);
    fit_plan p;
    out_paths op;
    dc_config_data d;
    memset(&d, 0, sizeof d);
    memset(&p, 0, sizeof p);
    dc_history *h = NULL;
    dc_model *m = dc_config_model(&c);
    dc_status s = m ? DC_OK : dc_last_status();
    if (!s) s = read_fit(&c, &p);
    if (!s) s = read_output(&c, a.outdir, &op);
    if (!s && a.epochs) p.o.epochs = a.epochs;
    if (!s && dc_cli_quiet) p.o.verbose = 0;
    if (!s && p.mixed) s = dc_model_set_mixed_precision(m, true);
    if (!s) s = dc_config_data_load(&c, m, &d);
    if (!s) s = make_parent(op.model);
    if (!s) s = make_parent(op.history);
    if (!s) s = make_parent(op.curves);
    if (!s && !dc_cli_quiet) {
        printf("data: %s: %lld training rows%s", d.desc, (long long)dc_tensor_dim(d.x, 0), d.test_x ? ", " : "\n");
        if (d.test_x) printf("%lld test rows\n", (long long)dc_tensor_dim(d.test_x, 0));
        dc_model_summary(m, stdout);
    }
    p.o.callbacks = p.cbs;
    p.o.ncallbacks = p.ncb;
    if (!s) s = dc_model_fit(m, d.x, d.y, &p.o, &h);
    if (!s) s = dc_model_save(m, op.model);
    const dc_history *hist = m && !s ? dc_model_history(m) : NULL;
    if (!s && hist && dc_history_epochs(hist) > 0) {
        s = dc_history_write_csv(hist, op.history);
        if (!s) s = dc_plot_history_svg(hist, op.curves, a.config);
    }
    if (!s && op.test_data && d.test_x) {
        if (!(s = make_parent(op.test_x))) s = dc_npy_save(op.test_x, d.test_x, DC_DTYPE_F32);
        if (!s) s = dc_npy_save(op.test_y, d.test_y, DC_DTYPE_F32);
    }
    if (!s) {
        if (!dc_cli_quiet) {
            printf("model: %s\n", op.model);
            if (hist && dc_history_epochs(hist) > 0) printf("history: %s\nlearning curves: %s\n", op.history, op.curves);
            if (op.test_data && d.test_x) printf("test data: %s %s\n", op.test_x, op.test_y);
        }
        /* the last epoch's values, then the test set's (or the training set's without one) */
        for (int i = 0; hist && i < dc_history_num_series(hist); i++) {
            const char *name = dc_history_series_name(hist, i);
            int e = dc_history_epochs(hist);
            if (e > 0 && strcmp(name, "lr") != 0 && strcmp(name, "seconds") != 0) printf("final_%s=%.6g\n", name, dc_history_get(hist, name)[e - 1]);
        }
        double res[1 + 8];
        const dc_tensor *ex = d.test_x ? d.test_x : d.x, *ey = d.test_x ? d.test_y : d.y;
        const char *pre = d.test_x ? "test" : "train";
        if (!(s = dc_model_evaluate(m, ex, ey, 256, res))) {
            printf("%s_loss=%.6g\n", pre, res[0]);
            for (int i = 0; i < 8 && i < dc_model_num_metrics(m); i++)
                printf("%s_%s=%.4f\n", pre, dc_metric_name(dc_model_metric(m, i)), res[1 + i]);
            if (d.baseline >= 0) printf("baseline_accuracy=%.4f\n", d.baseline);
        }
    }
    rc = s ? dc_cli_fail("train", NULL) : 0;
    dc_history_free(h);
    for (int i = 0; i < p.ncb; i++) dc_callback_free(p.cbs[i]);
    dc_config_data_free(&d);
    dc_model_free(m);
    dc_config_free(&c);
    return rc;
}
