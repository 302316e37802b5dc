/* A program built outside deepc's tree against the installed library: a 2-4-1 network learns XOR
 * and prints its rounded answers and the library's version. */
#include <deepc.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    const float X[] = {0, 0, 0, 1, 1, 0, 1, 1}, Y[] = {0, 1, 1, 0};
    dc_tensor *x = dc_tensor_from(2, (int64_t[]){4, 2}, X), *y = dc_tensor_from(2, (int64_t[]){4, 1}, Y);
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 3);
    dc_model_add(m, dc_input(1, (int64_t[]){2}));
    dc_model_add(m, dc_dense(4, DC_ACT_SIGMOID));
    dc_model_add(m, dc_dense(1, DC_ACT_SIGMOID));
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 2000, o.batch_size = 4, o.shuffle = false, o.verbose = 0;
    if (dc_model_compile(m, dc_sgd(2.0f, 0.9f, false), DC_LOSS_MSE, NULL, 0) || dc_model_fit(m, x, y, &o, NULL))
        return fprintf(stderr, "xor: %s\n", dc_last_error()), 1;
    dc_tensor *p = dc_model_predict(m, x, 4);
    if (!p) return fprintf(stderr, "xor: %s\n", dc_last_error()), 1;
    printf("xor:");
    for (int i = 0; i < 4; i++) printf(" %d", dc_tensor_data(p)[i] > 0.5f);
    /* the headers' version and the library's agree when the program runs against what it was built with */
    printf(" deepc %s%s\n", dc_version(), strcmp(dc_version(), DC_VERSION_STRING) ? " (headers differ)" : "");
    dc_tensor_free(p);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
    return 0;
}
