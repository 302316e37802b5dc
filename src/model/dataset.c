/* Datasets: rows read a batch at a time from a source (tensors in memory, mapped files, one's
 * own), converted to float32 and transformed per batch; and the feed that gathers the next batch
 * on a background thread while the current one trains.
 *
 * Choices:
 *  - A dataset is its source and, per part, a list of transforms. Gathering runs the source
 *    into a scratch buffer and each transform from one buffer into the next, the last into
 *    the caller's: transforms that change the row's size (one-hot, crops) need no special
 *    case, and the source writes float32 once.
 *  - Random transforms draw from a generator seeded by the caller's seed, the row's index in
 *    the data set and the transform's position: a row's augmentation in an epoch does not
 *    depend on the batch it falls in, the rank that gathers it or whether prefetching is on.
 *  - Gathering runs plain loops, no OpenMP: on the prefetch thread it must not start a second
 *    team of threads next to the one training the model.
 *  - The feed's thread reports an error with its message, which the waiting thread raises
 *    again as its own (error messages are per thread). */
#include "dataset.h"

#include "../tensor/tensor.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef enum tkind { T_SCALE, T_ONE_HOT, T_RESHAPE, T_NHWC, T_FLIP, T_SHIFT, T_CROP } tkind;

typedef struct tstep {
    tkind k;
    float a, b;
    int64_t classes;
    bool h, v;
    int64_t dy, dx;        /* shift's largest moves; crop's window height and width */
    int in_ndim;           /* the row shape this step takes */
    int64_t in_shape[DC_MAX_DIMS];
} tstep;

#define MAX_STEPS 16

struct dc_dataset {
    char name[256];
    int64_t rows;
    int nparts;
    int src_ndim[DC_DATASET_MAX_PARTS];
    int64_t src_shape[DC_DATASET_MAX_PARTS][DC_MAX_DIMS];
    int ndim[DC_DATASET_MAX_PARTS]; /* after the transforms */
    int64_t shape[DC_DATASET_MAX_PARTS][DC_MAX_DIMS];
    tstep steps[DC_DATASET_MAX_PARTS][MAX_STEPS];
    int nsteps[DC_DATASET_MAX_PARTS];
    dc_status (*gather)(void *self, int part, const int64_t *idx, int64_t n, float *dst);
    void (*free_self)(void *self);
    void *self;
    /* a zip of datasets: part p is part zpart[p] of child zchild[p] */
    dc_dataset **child;
    int nchild;
    int zchild[DC_DATASET_MAX_PARTS], zpart[DC_DATASET_MAX_PARTS];
    float *scratch[2];
    size_t scratch_cap; /* floats in each */
    bool prefetch;
};

static int64_t elems(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

static dc_status check_shape(const char *who, const char *name, int p, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > DC_MAX_DIMS - 1)
        return dc_error(DC_ERR_ARG, "%s: %s: part %d has rank %d, outside 0..%d", who, name, p, ndim, DC_MAX_DIMS - 1);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        if (shape[d] <= 0 || __builtin_mul_overflow(n, shape[d], &n) || n > ((int64_t)1 << 40))
            return dc_error(DC_ERR_ARG, "%s: %s: part %d's row shape %s is not a valid shape", who, name, p,
                            dc_shape_str(ndim, shape, (char[160]){0}, 160));
    return DC_OK;
}

dc_dataset *dc_dataset_new(const dc_dataset_source *src) {
    if (!src) return dc_error_null(DC_ERR_ARG, "dc_dataset_new: source is NULL");
    const char *name = src->name ? src->name : "dataset";
    dc_status s = DC_OK;
    if (!src->gather) s = dc_error(DC_ERR_ARG, "dc_dataset_new: %s: the source has no gather function", name);
    else if (src->rows <= 0) s = dc_error(DC_ERR_ARG, "dc_dataset_new: %s: the source has %lld rows", name, (long long)src->rows);
    else if (src->nparts < 1 || src->nparts > DC_DATASET_MAX_PARTS)
        s = dc_error(DC_ERR_ARG, "dc_dataset_new: %s: %d parts, outside 1..%d", name, src->nparts, DC_DATASET_MAX_PARTS);
    for (int p = 0; !s && p < src->nparts; p++) s = check_shape("dc_dataset_new", name, p, src->ndim[p], src->shape[p]);
    dc_dataset *ds = s ? NULL : dc_calloc(1, sizeof *ds);
    if (!ds) {
        if (src->free) src->free(src->self);
        return NULL;
    }
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->rows = src->rows;
    ds->nparts = src->nparts;
    for (int p = 0; p < src->nparts; p++) {
        ds->src_ndim[p] = ds->ndim[p] = src->ndim[p];
        memcpy(ds->src_shape[p], src->shape[p], sizeof ds->src_shape[p]);
        memcpy(ds->shape[p], src->shape[p], sizeof ds->shape[p]);
    }
    ds->gather = src->gather;
    ds->free_self = src->free;
    ds->self = src->self;
    ds->prefetch = true;
    return ds;
}

void dc_dataset_free(dc_dataset *ds) {
    if (!ds) return;
    if (ds->free_self) ds->free_self(ds->self);
    for (int i = 0; i < ds->nchild; i++) dc_dataset_free(ds->child[i]);
    dc_free(ds->child);
    dc_free(ds->scratch[0]);
    dc_free(ds->scratch[1]);
    dc_free(ds);
}

const char *dc_dataset_name(const dc_dataset *ds) { return ds ? ds->name : NULL; }
int64_t dc_dataset_rows(const dc_dataset *ds) { return ds ? ds->rows : 0; }
int dc_dataset_num_parts(const dc_dataset *ds) { return ds ? ds->nparts : 0; }
bool dc_dataset_prefetching(const dc_dataset *ds) { return ds && ds->prefetch; }

int dc_dataset_part_shape(const dc_dataset *ds, int part, int64_t *shape) {
    if (!ds || part < 0 || part >= ds->nparts) return -1;
    if (shape) memcpy(shape, ds->shape[part], sizeof ds->shape[part]);
    return ds->ndim[part];
}

dc_status dc_dataset_set_prefetch(dc_dataset *ds, bool on) {
    if (!ds) return dc_error(DC_ERR_ARG, "dc_dataset_set_prefetch: dataset is NULL");
    ds->prefetch = on;
    return DC_OK;
}

/* ---- tensors in memory ------------------------------------------------------------------- */

typedef struct tensor_src {
    int n;
    const dc_tensor *t[DC_DATASET_MAX_PARTS];
} tensor_src;

static dc_status tensor_gather(void *self, int part, const int64_t *idx, int64_t n, float *dst) {
    const dc_tensor *t = ((tensor_src *)self)->t[part];
    int64_t w = t->numel / t->shape[0];
    for (int64_t r = 0; r < n; r++) memcpy(dst + r * w, t->data + idx[r] * w, (size_t)w * sizeof(float));
    return DC_OK;
}

dc_dataset *dc_dataset_from_tensors(int nx, const dc_tensor *const *x, const dc_tensor *y) {
    if (nx < 1 || nx > DC_DATASET_MAX_PARTS - 1 || !x)
        return dc_error_null(DC_ERR_ARG, "dc_dataset_from_tensors: %d inputs (1 to %d) with %s", nx, DC_DATASET_MAX_PARTS - 1,
                             x ? "x" : "x NULL");
    tensor_src *ts = dc_calloc(1, sizeof *ts);
    if (!ts) return NULL;
    dc_dataset_source src = {.name = "tensors", .nparts = nx + (y != NULL), .gather = tensor_gather, .free = dc_free, .self = ts};
    for (int p = 0; p < src.nparts; p++) {
        const dc_tensor *t = p < nx ? x[p] : y;
        const char *what = p < nx ? "x" : "y";
        dc_status s = DC_OK;
        if (!t) s = dc_error(DC_ERR_ARG, "dc_dataset_from_tensors: %s[%d] is NULL", what, p);
        else if (!dc_tensor_is_contiguous(t)) s = dc_error(DC_ERR_ARG, "dc_dataset_from_tensors: %s is not contiguous (dc_tensor_clone makes a copy)", what);
        else if (t->shape[0] != x[0]->shape[0])
            s = dc_error(DC_ERR_SHAPE, "dc_dataset_from_tensors: %s has %lld rows but x has %lld", p < nx ? "an input" : "y",
                         (long long)t->shape[0], (long long)x[0]->shape[0]);
        if (s) {
            dc_free(ts);
            return NULL;
        }
        ts->t[p] = t;
        src.ndim[p] = t->ndim - 1;
        memcpy(src.shape[p], t->shape + 1, (size_t)(t->ndim - 1) * sizeof(int64_t));
    }
    ts->n = src.nparts;
    src.rows = x[0]->shape[0];
    return dc_dataset_new(&src);
}

/* ---- zip --------------------------------------------------------------------------------- */

static dc_status zip_gather(void *self, int part, const int64_t *idx, int64_t n, float *dst) {
    (void)self, (void)part, (void)idx, (void)n, (void)dst;
    return DC_OK; /* never called: gather dispatches to the children itself */
}

dc_dataset *dc_dataset_zip(int n, dc_dataset *const *sets) {
    dc_status s = DC_OK;
    int parts = 0;
    if (n < 1 || !sets) s = dc_error(DC_ERR_ARG, "dc_dataset_zip: %d datasets%s", n, sets ? "" : " (NULL)");
    for (int i = 0; !s && i < n; i++) {
        if (!sets[i]) s = dc_error(DC_ERR_ARG, "dc_dataset_zip: dataset %d is NULL", i);
        else if (sets[i]->rows != sets[0]->rows)
            s = dc_error(DC_ERR_SHAPE, "dc_dataset_zip: %s has %lld rows but %s has %lld", sets[i]->name, (long long)sets[i]->rows,
                         sets[0]->name, (long long)sets[0]->rows);
        else parts += sets[i]->nparts;
    }
    if (!s && parts > DC_DATASET_MAX_PARTS) s = dc_error(DC_ERR_ARG, "dc_dataset_zip: %d parts, over %d", parts, DC_DATASET_MAX_PARTS);
    dc_dataset *ds = NULL;
    dc_dataset **kids = s ? NULL : dc_calloc((size_t)n, sizeof *kids);
    if (kids) {
        dc_dataset_source src = {.rows = sets[0]->rows, .nparts = parts, .gather = zip_gather};
        char name[256];
        int o = 0, p = 0;
        name[0] = 0;
        for (int i = 0; i < n; i++) {
            o += snprintf(name + o, sizeof name - (size_t)DC_MIN(o, 255), "%s%s", i ? " + " : "", sets[i]->name);
            o = DC_MIN(o, 255);
            for (int q = 0; q < sets[i]->nparts; q++, p++) {
                src.ndim[p] = sets[i]->ndim[q];
                memcpy(src.shape[p], sets[i]->shape[q], sizeof src.shape[p]);
            }
        }
        src.name = name;
        if ((ds = dc_dataset_new(&src))) {
            for (int i = 0, pp = 0; i < n; i++)
                for (int q = 0; q < sets[i]->nparts; q++, pp++) ds->zchild[pp] = i, ds->zpart[pp] = q;
            memcpy(kids, sets, (size_t)n * sizeof *kids);
            ds->child = kids;
            ds->nchild = n;
            ds->prefetch = true;
            return ds;
        }
        dc_free(kids);
    }
    for (int i = 0; sets && i < n; i++) dc_dataset_free(sets[i]);
    return NULL;
}

/* ---- transforms -------------------------------------------------------------------------- */

static dc_status add_step(dc_dataset *ds, int part, const char *who, tstep *t) {
    if (!ds) return dc_error(DC_ERR_ARG, "%s: dataset is NULL", who);
    if (part < 0 || part >= ds->nparts)
        return dc_error(DC_ERR_ARG, "%s: %s has %d part%s, no part %d", who, ds->name, ds->nparts, ds->nparts == 1 ? "" : "s", part);
    if (ds->nsteps[part] == MAX_STEPS) return dc_error(DC_ERR_ARG, "%s: %s: part %d has %d transforms already", who, ds->name, part, MAX_STEPS);
    t->in_ndim = ds->ndim[part];
    memcpy(t->in_shape, ds->shape[part], sizeof t->in_shape);
    ds->steps[part][ds->nsteps[part]++] = *t;
    return DC_OK;
}

static char *shape_of(const dc_dataset *ds, int part, char *buf) { return dc_shape_str(ds->ndim[part], ds->shape[part], buf, 160); }

dc_status dc_dataset_scale(dc_dataset *ds, int part, float a, float b) {
    if (!isfinite(a) || !isfinite(b)) return dc_error(DC_ERR_ARG, "dc_dataset_scale: a %g and b %g must be finite", (double)a, (double)b);
    return add_step(ds, part, "dc_dataset_scale", &(tstep){.k = T_SCALE, .a = a, .b = b});
}

dc_status dc_dataset_one_hot(dc_dataset *ds, int part, int64_t classes) {
    if (classes < 1 || classes > (1 << 24)) return dc_error(DC_ERR_ARG, "dc_dataset_one_hot: %lld classes, outside 1..2^24", (long long)classes);
    dc_status s = add_step(ds, part, "dc_dataset_one_hot", &(tstep){.k = T_ONE_HOT, .classes = classes});
    if (s) return s;
    char b[160];
    if (elems(ds->ndim[part], ds->shape[part]) != 1) {
        ds->nsteps[part]--;
        return dc_error(DC_ERR_SHAPE, "dc_dataset_one_hot: %s: part %d's rows are %s, not one class index each", ds->name, part,
                        shape_of(ds, part, b));
    }
    ds->ndim[part] = 1;
    ds->shape[part][0] = classes;
    return DC_OK;
}

dc_status dc_dataset_reshape(dc_dataset *ds, int part, int ndim, const int64_t *shape) {
    if (!shape) return dc_error(DC_ERR_ARG, "dc_dataset_reshape: shape is NULL");
    dc_status s = add_step(ds, part, "dc_dataset_reshape", &(tstep){.k = T_RESHAPE});
    if (s) return s;
    if (!(s = check_shape("dc_dataset_reshape", ds->name, part, ndim, shape)) &&
        elems(ndim, shape) != elems(ds->ndim[part], ds->shape[part])) {
        char a[160], b[160];
        s = dc_error(DC_ERR_SHAPE, "dc_dataset_reshape: %s: part %d's rows %s cannot become %s (%lld elements, not %lld)", ds->name,
                     part, shape_of(ds, part, a), dc_shape_str(ndim, shape, b, sizeof b), (long long)elems(ds->ndim[part], ds->shape[part]),
                     (long long)elems(ndim, shape));
    }
    if (s) {
        ds->nsteps[part]--;
        return s;
    }
    ds->ndim[part] = ndim;
    memset(ds->shape[part], 0, sizeof ds->shape[part]);
    memcpy(ds->shape[part], shape, (size_t)ndim * sizeof *shape);
    return DC_OK;
}

/* Image transforms need a height and a width: the last two axes. */
static dc_status image_step(dc_dataset *ds, int part, const char *who, tstep *t) {
    dc_status s = add_step(ds, part, who, t);
    if (s) return s;
    if (ds->ndim[part] < 2) {
        char b[160];
        ds->nsteps[part]--;
        return dc_error(DC_ERR_SHAPE, "%s: %s: part %d's rows are %s; an image needs a height and a width (the last two axes)", who,
                        ds->name, part, shape_of(ds, part, b));
    }
    return DC_OK;
}

dc_status dc_dataset_nhwc_to_nchw(dc_dataset *ds, int part) {
    dc_status s = add_step(ds, part, "dc_dataset_nhwc_to_nchw", &(tstep){.k = T_NHWC});
    if (s) return s;
    if (ds->ndim[part] != 3) {
        char b[160];
        ds->nsteps[part]--;
        return dc_error(DC_ERR_SHAPE, "dc_dataset_nhwc_to_nchw: %s: part %d's rows are %s, not [H, W, C]", ds->name, part, shape_of(ds, part, b));
    }
    int64_t h = ds->shape[part][0], w = ds->shape[part][1], c = ds->shape[part][2];
    ds->shape[part][0] = c, ds->shape[part][1] = h, ds->shape[part][2] = w;
    return DC_OK;
}

dc_status dc_dataset_random_flip(dc_dataset *ds, int part, bool horizontal, bool vertical) {
    return image_step(ds, part, "dc_dataset_random_flip", &(tstep){.k = T_FLIP, .h = horizontal, .v = vertical});
}

dc_status dc_dataset_random_shift(dc_dataset *ds, int part, int64_t max_dy, int64_t max_dx) {
    if (max_dy < 0 || max_dx < 0)
        return dc_error(DC_ERR_ARG, "dc_dataset_random_shift: the largest moves %lld and %lld must be >= 0", (long long)max_dy, (long long)max_dx);
    return image_step(ds, part, "dc_dataset_random_shift", &(tstep){.k = T_SHIFT, .dy = max_dy, .dx = max_dx});
}

dc_status dc_dataset_random_crop(dc_dataset *ds, int part, int64_t height, int64_t width) {
    dc_status s = image_step(ds, part, "dc_dataset_random_crop", &(tstep){.k = T_CROP, .dy = height, .dx = width});
    if (s) return s;
    int nd = ds->ndim[part];
    int64_t *sh = ds->shape[part];
    if (height < 1 || width < 1 || height > sh[nd - 2] || width > sh[nd - 1]) {
        char b[160];
        ds->nsteps[part]--;
        return dc_error(DC_ERR_SHAPE, "dc_dataset_random_crop: %s: a %lld x %lld window does not fit part %d's rows %s", ds->name,
                        (long long)height, (long long)width, part, shape_of(ds, part, b));
    }
    sh[nd - 2] = height, sh[nd - 1] = width;
    return DC_OK;
}

/* The generator of row `row`'s draws for transform `step` under seed. */
static void row_rng(dc_rng *r, uint64_t seed, int64_t row, int step) {
    dc_rng_seed(r, seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(row + 1)) ^ (0xbf58476d1ce4e5b9ull * (uint64_t)(step + 1)));
}

static int64_t draw(dc_rng *r, int64_t lo, int64_t hi) { return lo + (int64_t)(dc_rng_next(r) % (uint64_t)(hi - lo + 1)); }

/* Applies step t (number k of its part) to n rows of in into out. */
static dc_status apply(const dc_dataset *ds, int part, const tstep *t, int k, const int64_t *idx, int64_t n, const float *in, float *out,
                       bool augment, uint64_t seed) {
    int64_t w = elems(t->in_ndim, t->in_shape);
    int nd = t->in_ndim;
    int64_t H = nd >= 2 ? t->in_shape[nd - 2] : 1, W = nd >= 2 ? t->in_shape[nd - 1] : 1, planes = w / (H * W);
    for (int64_t r = 0; r < n; r++) {
        const float *x = in + r * w;
        dc_rng rng;
        if (augment) row_rng(&rng, seed, idx[r], k);
        switch (t->k) {
        case T_SCALE:
            for (int64_t i = 0; i < w; i++) out[r * w + i] = x[i] * t->a + t->b;
            break;
        case T_RESHAPE:
            memcpy(out + r * w, x, (size_t)w * sizeof(float));
            break;
        case T_ONE_HOT: {
            float v = x[0];
            float *o = out + r * t->classes;
            if (!(v >= 0 && v < (float)t->classes) || v != floorf(v))
                return dc_error(DC_ERR_ARG, "%s: part %d, row %lld: label %g is not a class index in [0, %lld)", ds->name, part,
                                (long long)idx[r], (double)v, (long long)t->classes);
            memset(o, 0, (size_t)t->classes * sizeof(float));
            o[(int64_t)v] = 1;
            break;
        }
        case T_NHWC: {
            int64_t h = t->in_shape[0], ww = t->in_shape[1], c = t->in_shape[2];
            float *o = out + r * w;
            for (int64_t y = 0; y < h; y++)
                for (int64_t xx = 0; xx < ww; xx++)
                    for (int64_t ch = 0; ch < c; ch++) o[(ch * h + y) * ww + xx] = x[(y * ww + xx) * c + ch];
            break;
        }
        case T_FLIP: {
            bool fh = augment && t->h && (dc_rng_next(&rng) >> 63);
            bool fv = augment && t->v && (dc_rng_next(&rng) >> 63);
            float *o = out + r * w;
            for (int64_t p = 0; p < planes; p++)
                for (int64_t y = 0; y < H; y++) {
                    const float *src = x + (p * H + (fv ? H - 1 - y : y)) * W;
                    float *d = o + (p * H + y) * W;
                    if (fh)
                        for (int64_t xx = 0; xx < W; xx++) d[xx] = src[W - 1 - xx];
                    else memcpy(d, src, (size_t)W * sizeof(float));
                }
            break;
        }
        case T_SHIFT: {
            int64_t dy = augment ? draw(&rng, -t->dy, t->dy) : 0, dx = augment ? draw(&rng, -t->dx, t->dx) : 0;
            float *o = out + r * w;
            for (int64_t p = 0; p < planes; p++)
                for (int64_t y = 0; y < H; y++) {
                    float *d = o + (p * H + y) * W;
                    int64_t sy = y - dy;
                    if (sy < 0 || sy >= H) {
                        memset(d, 0, (size_t)W * sizeof(float));
                        continue;
                    }
                    const float *src = x + (p * H + sy) * W;
                    for (int64_t xx = 0; xx < W; xx++) {
                        int64_t sx = xx - dx;
                        d[xx] = sx >= 0 && sx < W ? src[sx] : 0.0f;
                    }
                }
            break;
        }
        case T_CROP: {
            int64_t ch = t->dy, cw = t->dx;
            int64_t oy = augment ? draw(&rng, 0, H - ch) : (H - ch) / 2, ox = augment ? draw(&rng, 0, W - cw) : (W - cw) / 2;
            float *o = out + r * planes * ch * cw;
            for (int64_t p = 0; p < planes; p++)
                for (int64_t y = 0; y < ch; y++) memcpy(o + (p * ch + y) * cw, x + (p * H + oy + y) * W + ox, (size_t)cw * sizeof(float));
            break;
        }
        }
    }
    return DC_OK;
}

/* The largest row, in floats, that part p holds at any stage of its transforms. */
static int64_t widest(const dc_dataset *ds, int p) {
    int64_t m = elems(ds->ndim[p], ds->shape[p]);
    for (int k = 0; k < ds->nsteps[p]; k++) m = DC_MAX(m, elems(ds->steps[p][k].in_ndim, ds->steps[p][k].in_shape));
    return m;
}

dc_status dc_dataset_gather(dc_dataset *ds, int part, const int64_t *idx, int64_t n, float *dst, bool augment, uint64_t seed) {
    if (!ds || !dst || (!idx && n)) return dc_error(DC_ERR_ARG, "dc_dataset_gather: dataset, idx or dst is NULL");
    if (part < 0 || part >= ds->nparts)
        return dc_error(DC_ERR_ARG, "dc_dataset_gather: %s has %d parts, no part %d", ds->name, ds->nparts, part);
    for (int64_t r = 0; r < n; r++)
        if (idx[r] < 0 || idx[r] >= ds->rows)
            return dc_error(DC_ERR_ARG, "dc_dataset_gather: %s: row %lld is outside its %lld rows", ds->name, (long long)idx[r], (long long)ds->rows);
    if (n == 0) return DC_OK;
    int ns = ds->nsteps[part];
    float *cur = dst;
    if (ns) {
        size_t need = (size_t)(n * widest(ds, part));
        if (need > ds->scratch_cap) {
            dc_free(ds->scratch[0]);
            dc_free(ds->scratch[1]);
            ds->scratch[1] = NULL;
            ds->scratch_cap = 0;
            if (!(ds->scratch[0] = dc_alloc(need * sizeof(float))) || !(ds->scratch[1] = dc_alloc(need * sizeof(float)))) return DC_ERR_NOMEM;
            ds->scratch_cap = need;
        }
        cur = ds->scratch[0];
    }
    dc_status s = ds->child ? dc_dataset_gather(ds->child[ds->zchild[part]], ds->zpart[part], idx, n, cur, augment, seed)
                            : ds->gather(ds->self, part, idx, n, cur);
    if (s) return s;
    /* each part draws from a seed of its own, so that equal transforms of two parts differ */
    for (int k = 0; k < ns; k++) {
        float *out = k == ns - 1 ? dst : cur == ds->scratch[0] ? ds->scratch[1] : ds->scratch[0];
        if ((s = apply(ds, part, &ds->steps[part][k], k, idx, n, cur, out, augment, seed ^ (0x94d049bb133111ebull * (uint64_t)(part + 1)))))
            return s;
        cur = out;
    }
    return DC_OK;
}

dc_status dc_dataset_likes(const dc_dataset *ds, int nparts, dc_tensor *like) {
    for (int p = 0; p < nparts; p++) {
        dc_tensor *t = &like[p];
        memset(t, 0, sizeof *t);
        t->ndim = ds->ndim[p] + 1;
        t->shape[0] = ds->rows;
        memcpy(t->shape + 1, ds->shape[p], (size_t)ds->ndim[p] * sizeof(int64_t));
        t->numel = ds->rows * elems(ds->ndim[p], ds->shape[p]);
        dc_set_contiguous_strides(t);
    }
    return DC_OK;
}

/* ---- the feed ---------------------------------------------------------------------------- */

/* Batches gathered ahead of the one in use: up to FEED_SLOTS - 1 (fewer for large batches, whose
 * buffers would cost more memory than the wake-ups they save: FEED_DEEP_BYTES a set at most). */
#define FEED_SLOTS 4
#define FEED_DEEP_BYTES ((size_t)4 << 20)

typedef struct feed_slot {
    float *buf[DC_DATASET_MAX_PARTS];
    int64_t *idx;
    int64_t n;
    bool augment;
    uint64_t seed;
    dc_status status;
    char msg[512];
} feed_slot;

struct dc_feed {
    dc_dataset *ds;
    int nparts, nslots;
    int64_t cap;
    feed_slot slot[FEED_SLOTS];
    /* requests counted from 0; request r lives in slot r % nslots. submitted >= started >=
     * gathered >= taken, except that an unthreaded feed gathers in take. */
    int64_t submitted, started, gathered, taken;
    bool sleeping, waiting, quit;
    bool threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
};

/* Gathers request r into its slot, with its status and message. */
static void run_request(dc_feed *f, int64_t r) {
    feed_slot *sl = &f->slot[r % f->nslots];
    dc_status s = DC_OK;
    for (int p = 0; p < f->nparts && !s; p++) s = dc_dataset_gather(f->ds, p, sl->idx, sl->n, sl->buf[p], sl->augment, sl->seed);
    sl->status = s;
    if (s) snprintf(sl->msg, sizeof sl->msg, "%s", dc_last_error());
}

/* The gathering thread: it sleeps until woken with requests waiting, then gathers all of them.
 * Waking a sleeping thread is a system call (and, on a virtual machine, an exit to the host),
 * so dc_feed_submit wakes it only when a full queue is waiting, and dc_feed_take when the
 * caller needs its batch: one wake-up per FEED_SLOTS - 1 batches rather than one per batch. */
static void *feed_main(void *arg) {
    dc_feed *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->quit && f->started == f->submitted) {
            f->sleeping = true;
            pthread_cond_wait(&f->work, &f->mu);
        }
        f->sleeping = false;
        if (f->quit) break;
        int64_t r = f->started++;
        pthread_mutex_unlock(&f->mu);
        run_request(f, r);
        pthread_mutex_lock(&f->mu);
        f->gathered = r + 1;
        if (f->waiting) pthread_cond_signal(&f->ready);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

dc_feed *dc_feed_new(dc_dataset *ds, int nparts, int64_t cap, bool threaded) {
    dc_feed *f = dc_calloc(1, sizeof *f);
    if (!f) return NULL;
    f->ds = ds;
    f->nparts = nparts;
    f->cap = cap;
    size_t set = 0;
    for (int p = 0; p < nparts; p++) set += (size_t)(cap * elems(ds->ndim[p], ds->shape[p])) * sizeof(float);
    f->nslots = threaded && set <= FEED_DEEP_BYTES ? FEED_SLOTS : 2;
    bool ok = true;
    for (int k = 0; k < f->nslots && ok; k++) {
        ok = (f->slot[k].idx = dc_alloc((size_t)cap * sizeof(int64_t))) != NULL;
        for (int p = 0; p < nparts && ok; p++)
            ok = (f->slot[k].buf[p] = dc_alloc((size_t)(cap * elems(ds->ndim[p], ds->shape[p])) * sizeof(float))) != NULL;
    }
    if (ok && threaded) {
        pthread_mutex_init(&f->mu, NULL);
        pthread_cond_init(&f->work, NULL);
        pthread_cond_init(&f->ready, NULL);
        if (pthread_create(&f->thread, NULL, feed_main, f) == 0) f->threaded = true;
        else {
            pthread_mutex_destroy(&f->mu);
            pthread_cond_destroy(&f->work);
            pthread_cond_destroy(&f->ready);
        }
    }
    if (!ok) {
        dc_feed_free(f);
        return NULL;
    }
    return f;
}

int dc_feed_room(const dc_feed *f) {
    /* the slot of the batch taken last stays in use until the next take */
    return f->nslots - (f->taken > 0 ? 1 : 0) - (int)(f->submitted - f->taken);
}

void dc_feed_submit(dc_feed *f, const int64_t *idx, int64_t start, int64_t n, bool augment, uint64_t seed) {
    if (f->threaded) pthread_mutex_lock(&f->mu);
    feed_slot *sl = &f->slot[f->submitted % f->nslots];
    for (int64_t r = 0; r < n; r++) sl->idx[r] = idx ? idx[r] : start + r;
    sl->n = n;
    sl->augment = augment;
    sl->seed = seed;
    f->submitted++;
    if (f->threaded) {
        if (f->sleeping && f->submitted - f->started >= f->nslots - 1) pthread_cond_signal(&f->work);
        pthread_mutex_unlock(&f->mu);
    }
}

int64_t dc_feed_fill(dc_feed *f, int64_t ask, int64_t end, int64_t batch) {
    for (; ask < end && dc_feed_room(f) > 0; ask += batch) dc_feed_submit(f, NULL, ask, DC_MIN(batch, end - ask), false, 0);
    return ask;
}

dc_status dc_feed_take(dc_feed *f, float **bufs) {
    const int64_t r = f->taken;
    if (f->threaded) {
        pthread_mutex_lock(&f->mu);
        if (f->gathered <= r) {
            if (f->sleeping) pthread_cond_signal(&f->work);
            f->waiting = true;
            while (f->gathered <= r) pthread_cond_wait(&f->ready, &f->mu);
            f->waiting = false;
        }
        pthread_mutex_unlock(&f->mu);
    } else {
        run_request(f, r);
    }
    f->taken = r + 1;
    feed_slot *sl = &f->slot[r % f->nslots];
    for (int p = 0; p < f->nparts; p++) bufs[p] = sl->buf[p];
    if (sl->status) return dc_error(sl->status, "%s", sl->msg);
    return DC_OK;
}

void dc_feed_settle(dc_feed *f) {
    if (!f) return;
    if (f->threaded) {
        /* requests not started are dropped; the one being gathered is waited for */
        pthread_mutex_lock(&f->mu);
        f->submitted = f->started;
        f->waiting = true;
        while (f->gathered < f->started) pthread_cond_wait(&f->ready, &f->mu);
        f->waiting = false;
        pthread_mutex_unlock(&f->mu);
    }
    /* what was gathered and not taken is dropped too: the slots count as taken */
    if (f->submitted > f->taken) f->taken = f->submitted;
    f->submitted = f->started = f->gathered = f->taken;
}

void dc_feed_free(dc_feed *f) {
    if (!f) return;
    if (f->threaded) {
        pthread_mutex_lock(&f->mu);
        f->quit = true;
        pthread_cond_signal(&f->work);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->thread, NULL);
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->work);
        pthread_cond_destroy(&f->ready);
    }
    for (int k = 0; k < f->nslots; k++) {
        dc_free(f->slot[k].idx);
        for (int p = 0; p < f->nparts; p++) dc_free(f->slot[k].buf[p]);
    }
    dc_free(f);
}
