/* The mixed-precision switch of a model: a flag on the model's step context, which every
 * forward and backward of the model runs on (the GEMM ops consult it through dc_op_gemm). */
#include "model.h"

#include "../autograd/autograd.h"
#include "../kernels/kernels.h"

dc_status dc_model_set_mixed_precision(dc_model *m, bool on) {
    if (!m) return dc_error(DC_ERR_ARG, "dc_model_set_mixed_precision: model is NULL");
    /* before build the context does not exist yet; build keeps one made here */
    if (!m->ctx && !(m->ctx = dc_ctx_new()))
        return dc_error(DC_ERR_NOMEM, "dc_model_set_mixed_precision: out of memory for the step context");
    dc_ctx_set_mixed_precision(m->ctx, on);
    return DC_OK;
}

bool dc_model_mixed_precision(const dc_model *m) { return m && dc_ctx_mixed_precision(m->ctx); }

bool dc_bf16_kernel_available(void) { return dc_k_bf16_available(); }
