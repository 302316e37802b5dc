/* Minimal test helpers shared by the test programs. */
#ifndef DC_TEST_CHECK_H
#define DC_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "deepc.h"

static int check_fails, check_count;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        check_count++;                                                                     \
        if (!(cond)) {                                                                     \
            check_fails++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, dc_last_error());                                               \
        }                                                                                  \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double _a = (a), _b = (b);                                                         \
        check_count++;                                                                     \
        if (!(fabs(_a - _b) <= (tol))) {                                                   \
            check_fails++;                                                                 \
            fprintf(stderr, "%s:%d: %s = %.8g, expected %.8g (tol %g)\n", __FILE__, __LINE__, #a, _a, _b, \
                    (double)(tol));                                                        \
        }                                                                                  \
    } while (0)

/* The call must fail with status st and a message containing each of the given words. */
#define CHECK_ERR(call, st, ...)                                                           \
    do {                                                                                   \
        dc_clear_error();                                                                  \
        int _s = (int)(call);                                                              \
        check_count++;                                                                     \
        const char *_w[] = {__VA_ARGS__};                                                  \
        int _ok = _s == (int)(st);                                                         \
        for (size_t _i = 0; _ok && _i < sizeof _w / sizeof _w[0]; _i++)                   \
            _ok = strstr(dc_last_error(), _w[_i]) != NULL;                                 \
        if (!_ok) {                                                                        \
            check_fails++;                                                                 \
            fprintf(stderr, "%s:%d: %s: expected %s, got %s: \"%s\"\n", __FILE__, __LINE__, #call, \
                    dc_status_name(st), dc_status_name(_s), dc_last_error());              \
        }                                                                                  \
    } while (0)

/* The call must return NULL with a message containing each of the given words. */
#define CHECK_NULL_ERR(call, ...)                                                          \
    do {                                                                                   \
        dc_clear_error();                                                                  \
        const void *_p = (call);                                                           \
        check_count++;                                                                     \
        const char *_w[] = {__VA_ARGS__};                                                  \
        int _ok = _p == NULL && dc_last_error()[0];                                        \
        for (size_t _i = 0; _ok && _i < sizeof _w / sizeof _w[0]; _i++)                   \
            _ok = strstr(dc_last_error(), _w[_i]) != NULL;                                 \
        if (!_ok) {                                                                        \
            check_fails++;                                                                 \
            fprintf(stderr, "%s:%d: %s: expected NULL with an error, got %p: \"%s\"\n", __FILE__, __LINE__, \
                    #call, _p, dc_last_error());                                           \
        }                                                                                  \
    } while (0)

static int check_report(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count, check_fails);
    return check_fails ? 1 : 0;
}

/* A new tensor of standard normal values drawn from r. */
static inline dc_tensor *check_randn(dc_rng *r, int ndim, const int64_t *shape) {
    dc_tensor *t = dc_tensor_new(ndim, shape);
    float *d = t ? dc_tensor_data(t) : NULL;
    for (int64_t i = 0; d && i < dc_tensor_numel(t); i++) d[i] = dc_rng_normal(r);
    return t;
}

#endif
