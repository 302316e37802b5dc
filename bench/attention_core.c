/* Attention alone, the fused forward pass over short keys against the general path of GEMMs
 * (docs/performance.md): dc_attention_packed on a random [B, T, 3 D] projection with H heads
 * and dropout, forward with a gradient, then backward of its sum. The two paths alternate in
 * rounds within one process (dc_attention_force_general); the best of each is printed, the
 * forward's time and the whole step's, as JSON lines and key=value lines.
 *   attention_core B T D H [dropout (0.1)] [rounds (400)] */
#include <stdio.h>
#include <stdlib.h>

#include "deepc.h"
#include "ops/ops.h"

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: attention_core B T D H [dropout] [rounds]\n");
        return 2;
    }
    const int64_t B = atoll(argv[1]), T = atoll(argv[2]), D = atoll(argv[3]), H = atoll(argv[4]);
    const float rate = argc > 5 ? (float)atof(argv[5]) : 0.1f;
    const int rounds = argc > 6 ? atoi(argv[6]) : 400;
    if (B < 1 || T < 1 || H < 1 || D < H || D % H || !(rate >= 0 && rate < 1) || rounds < 1) {
        fprintf(stderr, "attention_core: B, T, H >= 1, D a multiple of H, dropout in [0, 1) and rounds >= 1 expected\n");
        return 2;
    }
    dc_tensor *x = dc_tensor_new(3, (int64_t[]){B, T, 3 * D});
    if (!x) {
        fprintf(stderr, "attention_core: %s\n", dc_last_error());
        return 1;
    }
    dc_rng r;
    dc_rng_seed(&r, 1);
    for (int64_t i = 0; i < dc_tensor_numel(x); i++) dc_tensor_data(x)[i] = dc_rng_normal(&r);
    dc_tensor_set_requires_grad(x, true);
    dc_ctx *c = dc_ctx_new();
    double best_fwd[2] = {1e30, 1e30}, best_step[2] = {1e30, 1e30};
    for (int round = 0; round < rounds; round++)
        for (int general = 0; general < 2; general++) {
            dc_attention_force_general(general);
            dc_ctx_reset(c);
            dc_tensor_zero_grad(x);
            const double t0 = dc_now();
            dc_tensor *y = dc_attention_packed(c, x, (int)H, NULL, false, 0, rate, true, &r);
            const double t1 = dc_now();
            if (!y || dc_backward(c, dc_sum(c, y)) != DC_OK) {
                fprintf(stderr, "attention_core: %s\n", dc_last_error());
                return 1;
            }
            const double t2 = dc_now();
            if (t1 - t0 < best_fwd[general]) best_fwd[general] = t1 - t0;
            if (t2 - t0 < best_step[general]) best_step[general] = t2 - t0;
        }
    dc_attention_force_general(false);
    static const char *const path[2] = {"fused", "gemm"};
    for (int g = 0; g < 2; g++)
        printf("{\"bench\": \"attention_core\", \"path\": \"%s\", \"B\": %lld, \"T\": %lld, \"D\": %lld, \"H\": %lld, \"dropout\": %g, "
               "\"rounds\": %d, \"forward_us\": %.1f, \"step_us\": %.1f}\n",
               path[g], (long long)B, (long long)T, (long long)D, (long long)H, (double)rate, rounds, best_fwd[g] * 1e6,
               best_step[g] * 1e6);
    printf("forward_fused_us=%.1f\nforward_gemm_us=%.1f\nstep_fused_us=%.1f\nstep_gemm_us=%.1f\n", best_fwd[0] * 1e6, best_fwd[1] * 1e6,
           best_step[0] * 1e6, best_step[1] * 1e6);
    dc_ctx_free(c);
    dc_tensor_free(x);
    return 0;
}
