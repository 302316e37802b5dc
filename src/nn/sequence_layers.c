/* Permute and Masking (Keras's): the axes of a sample in another order, and a time-step mask
 * made from the data itself, for the recurrent, bidirectional and pooling layers after it. */
#include "layer.h"

#include <stdio.h>
#include <string.h>

static const char *lname(const dc_layer *l) { return l->name[0] ? l->name : l->type->stem; }

/* ---- Permute ---- */
typedef struct permute_cfg {
    int ndim;
    int64_t dims[DC_MAX_DIMS - 1]; /* 1-based: dims[i] is the input axis that output axis i + 1 is */
} permute_cfg;
static const dc_field permute_fields[] = {
    DC_F_DIMS(permute_cfg, "dims", dims, ndim, DC_MAX_DIMS - 1, 1, DC_MAX_DIMS - 1, DC_FIELD_REQUIRED),
};

static dc_status permute_check(const dc_layer *l) {
    const permute_cfg *c = DC_CCFG(l, permute_cfg);
    if (c->ndim < 1) return dc_error(DC_ERR_ARG, "%s: \"dims\" needs 1 to %d axes", lname(l), DC_MAX_DIMS - 1);
    bool seen[DC_MAX_DIMS] = {false};
    for (int i = 0; i < c->ndim; i++) {
        int64_t d = c->dims[i];
        if (d < 1 || d > c->ndim || seen[d]) {
            char b[96];
            return dc_error(DC_ERR_ARG, "%s: \"dims\" %s is not a permutation of the axes 1..%d", lname(l),
                            dc_shape_str(c->ndim, c->dims, b, sizeof b), c->ndim);
        }
        seen[d] = true;
    }
    return DC_OK;
}

static dc_status permute_build(dc_layer *l) {
    const permute_cfg *c = DC_CCFG(l, permute_cfg);
    if (c->ndim != l->in_ndim) {
        char a[160], b[96];
        return dc_error(DC_ERR_SHAPE, "%s: \"dims\" %s orders %d axes, the input %s has %d", l->name,
                        dc_shape_str(c->ndim, c->dims, b, sizeof b), c->ndim, dc_layer_shape_str(l->in_ndim, l->in_shape, a, sizeof a),
                        l->in_ndim);
    }
    l->out_ndim = c->ndim;
    for (int i = 0; i < c->ndim; i++) l->out_shape[i] = l->in_shape[c->dims[i] - 1];
    return DC_OK;
}

static dc_tensor *permute_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const permute_cfg *c = DC_CCFG(l, permute_cfg);
    int perm[DC_MAX_DIMS] = {0};
    for (int i = 0; i < c->ndim; i++) perm[i + 1] = (int)c->dims[i];
    /* the steps' mask stays only while the time axis stays first */
    f->out_mask = c->dims[0] == 1 ? f->mask[0] : NULL;
    return dc_contiguous(f->ctx, dc_permute(f->ctx, x[0], perm));
}

const dc_layer_type dc_permute_type = {
    .name = "Permute", .stem = "permute", .cfg_size = sizeof(permute_cfg), .fields = permute_fields,
    .nfields = DC_ARRAY_LEN(permute_fields), .build = permute_build, .forward = permute_forward, .check = permute_check,
};
DC_REGISTER_LAYER(dc_permute_type);

dc_layer *dc_permute_layer(int ndim, const int *dims) {
    if (ndim < 1 || ndim > DC_MAX_DIMS - 1 || !dims)
        return dc_error_null(DC_ERR_ARG, "permute: dims needs 1 to %d axes, got %d%s", DC_MAX_DIMS - 1, ndim, dims ? "" : " (NULL)");
    dc_layer *l = dc_layer_create(&dc_permute_type);
    double d[DC_MAX_DIMS];
    for (int i = 0; i < ndim; i++) d[i] = dims[i];
    if (l && dc_layer_set_field(l, "dims", d, ndim)) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

/* ---- Masking ---- */
typedef struct masking_cfg {
    float value;
} masking_cfg;
static const dc_field masking_fields[] = {
    DC_F_FLOAT(masking_cfg, "mask_value", value, -3.4e38, 3.4e38, 0, 0),
};

static dc_status masking_build(dc_layer *l) {
    if (l->in_ndim < 1) return dc_error(DC_ERR_SHAPE, "%s: expected steps (None, T, ...), got a scalar per sample", l->name);
    dc_layer_same_shape(l);
    return DC_OK;
}

static dc_tensor *masking_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const float v = DC_CCFG(l, masking_cfg)->value;
    dc_tensor *xc = dc_contiguous(f->ctx, x[0]);
    if (!xc) return NULL;
    int64_t N = xc->shape[0], T = xc->shape[1], rows = N * T, W = rows ? xc->numel / rows : 0;
    /* keep [N, T, 1, ...]: 1 for a step with a value other than mask_value, broadcast over the step */
    int64_t sh[DC_MAX_DIMS];
    for (int i = 0; i < xc->ndim; i++) sh[i] = i < 2 ? xc->shape[i] : 1;
    dc_tensor *keep = dc_empty(f->ctx, xc->ndim, sh);
    uint8_t *m = dc_scratch(f->ctx, (size_t)(rows > 0 ? rows : 1));
    if (!keep || !m) return NULL;
    for (int64_t r = 0; r < rows; r++) {
        const float *p = xc->data + r * W;
        int64_t j = 0;
        while (j < W && p[j] == v) j++;
        m[r] = j < W;
        keep->data[r] = m[r];
    }
    f->out_mask = m;
    return dc_mul(f->ctx, xc, keep);
}

const dc_layer_type dc_masking_type = {
    .name = "Masking", .stem = "masking", .cfg_size = sizeof(masking_cfg), .fields = masking_fields,
    .nfields = DC_ARRAY_LEN(masking_fields), .build = masking_build, .forward = masking_forward,
};
DC_REGISTER_LAYER(dc_masking_type);

dc_layer *dc_masking_layer(float mask_value) {
    dc_layer *l = dc_layer_create(&dc_masking_type);
    if (l && dc_layer_set_float(l, "mask_value", mask_value)) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}
