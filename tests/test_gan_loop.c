/* Two models trained in one hand-written loop, as a GAN does (examples/dcgan_fashion.c): the
 * output of one model (G) fed to another (D) in the same context carries the gradient back
 * through D into G's weights, also while every layer of D is frozen (dc_layer_set_trainable),
 * which leaves D's gradients zero and its weights untouched by G's updates. G's gradient is
 * checked against central finite differences of the loss. */
#include <stdlib.h>

#include "check.h"

static dc_model *make_g(void) {
    dc_model *g = dc_sequential();
    dc_model_set_seed(g, 3);
    dc_model_add(g, dc_input(1, (int64_t[]){3}));
    dc_model_add(g, dc_dense(5, DC_ACT_TANH));
    dc_layer *bn = dc_batch_norm_layer(0.1f, 1e-3f);
    dc_model_add(g, bn);
    dc_model_add(g, dc_dense(4, DC_ACT_NONE));
    CHECK(dc_model_build(g, 1, (int64_t[]){3}) == DC_OK);
    return g;
}

static dc_model *make_d(void) {
    dc_model *d = dc_sequential();
    dc_model_set_seed(d, 4);
    dc_model_add(d, dc_input(1, (int64_t[]){4}));
    dc_model_add(d, dc_dense(6, DC_ACT_TANH)); /* smooth, so that finite differences cross no kink */
    dc_model_add(d, dc_dropout_layer(0.5f)); /* off while frozen: the loss is deterministic */
    dc_model_add(d, dc_dense(1, DC_ACT_NONE));
    CHECK(dc_model_build(d, 1, (int64_t[]){4}) == DC_OK);
    return d;
}

static void set_trainable(dc_model *m, bool on) {
    for (int i = 0; i < dc_model_num_layers(m); i++) CHECK(dc_layer_set_trainable(dc_model_layer(m, i), on) == DC_OK);
}

/* The generator's loss bce(D(G(z)), 1), G in training mode (batch statistics), D frozen. */
static double loss_of(dc_model *g, dc_model *d, dc_ctx *c, dc_tensor *z, bool backward) {
    dc_ctx_reset(c);
    dc_ctx_set_grad(c, backward);
    dc_tensor *fake = dc_model_forward(g, c, z, true);
    dc_tensor *logit = fake ? dc_model_forward(d, c, fake, true) : NULL;
    dc_tensor *ones = dc_full(c, 2, (int64_t[]){dc_tensor_dim(z, 0), 1}, 1.0f);
    dc_tensor *loss = logit ? dc_bce_with_logits_loss(c, logit, ones) : NULL;
    CHECK(loss != NULL);
    if (!loss) return NAN;
    if (backward) CHECK(dc_backward(c, loss) == DC_OK);
    double v = dc_tensor_data(loss)[0];
    dc_ctx_set_grad(c, true);
    return v;
}

static void test_gradient_through_frozen(void) {
    dc_model *g = make_g(), *d = make_d();
    dc_rng r;
    dc_rng_seed(&r, 9);
    dc_tensor *z = check_randn(&r, 2, (int64_t[]){8, 3});
    dc_ctx *c = dc_ctx_new();
    int64_t ng = dc_model_param_buffer_size(g), nd = dc_model_param_buffer_size(d);
    float *pg = dc_model_params(g), *gg = dc_model_grads(g), *pd = dc_model_params(d), *gd = dc_model_grads(d);

    set_trainable(d, false);
    CHECK(dc_model_zero_grad(g) == DC_OK);
    CHECK(dc_model_zero_grad(d) == DC_OK);
    loss_of(g, d, c, z, true);
    double norm_g = 0, norm_d = 0;
    for (int64_t i = 0; i < ng; i++) norm_g += (double)gg[i] * gg[i];
    for (int64_t i = 0; i < nd; i++) norm_d += (double)gd[i] * gd[i];
    CHECK(norm_g > 0);  /* the gradient reached G through D */
    CHECK(norm_d == 0); /* and none went to D's frozen weights */

    /* central differences on every 3rd weight of G (the padding between tensors is zero both ways) */
    float *analytic = malloc((size_t)ng * sizeof *analytic);
    memcpy(analytic, gg, (size_t)ng * sizeof *analytic);
    double worst = 0;
    int checked = 0;
    for (int64_t i = 0; i < ng; i += 3) {
        float w = pg[i];
        const float h = 1e-2f;
        pg[i] = w + h;
        double up = loss_of(g, d, c, z, false);
        pg[i] = w - h;
        double dn = loss_of(g, d, c, z, false);
        pg[i] = w;
        double num = (up - dn) / (2.0 * h);
        worst = fmax(worst, fabs(num - analytic[i]) / fmax(1e-2, fabs(num)));
        checked++;
    }
    printf("G's gradient through the frozen D: %d weights, worst relative error %.2g\n", checked, worst);
    CHECK(checked > 10);
    CHECK(worst < 5e-3);

    /* an optimiser step on G leaves D bit-identical */
    float *before = malloc((size_t)nd * sizeof *before);
    memcpy(before, pd, (size_t)nd * sizeof *before);
    dc_optimizer *opt = dc_adam(1e-2f, 0.5f, 0.999f, 1e-7f);
    double first = loss_of(g, d, c, z, false);
    for (int step = 0; step < 20; step++) {
        CHECK(dc_model_zero_grad(g) == DC_OK);
        loss_of(g, d, c, z, true);
        CHECK(dc_optimizer_step(opt, pg, gg, ng) == DC_OK);
    }
    CHECK(memcmp(before, pd, (size_t)nd * sizeof *before) == 0);
    CHECK(loss_of(g, d, c, z, false) < first); /* G learned to fool the fixed D */
    set_trainable(d, true);

    free(before);
    free(analytic);
    dc_optimizer_free(opt);
    dc_ctx_free(c);
    dc_tensor_free(z);
    dc_model_free(g);
    dc_model_free(d);
}

int main(void) {
    test_gradient_through_frozen();
    return check_report("test_gan_loop");
}
