/* data: the symmetric eigen-decomposition behind PCA and the Frechet distance (LAPACK dsyevd). */
#include "linalg.h"

#include <math.h>
#include <stdlib.h>

#include "../base/base.h"

/* LAPACK's Fortran interface, as OpenBLAS exports it. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info);

dc_status dc_sym_eigen(int64_t n, double *a, double *w, const char *what) {
    if (!what) what = "matrix";
    if (!a || !w || n < 1 || n > 65536)
        return dc_error(DC_ERR_ARG, "eigen-decomposition of %s: size %lld must be in [1, 65536]", what, (long long)n);
    for (int64_t i = 0; i < n * n; i++)
        if (!isfinite(a[i]))
            return dc_error(DC_ERR_NUMERIC, "eigen-decomposition of %s: element (%lld, %lld) is not finite", what,
                            (long long)(i / n), (long long)(i % n));
    int nn = (int)n, info = 0, lwork = -1, liwork = -1, iq = 0;
    double wq = 0;
    /* LAPACK is column-major: a symmetric matrix reads the same either way, and the eigenvectors it
     * returns as columns are then rows of the row-major array. */
    dsyevd_("V", "L", &nn, a, &nn, w, &wq, &lwork, &iq, &liwork, &info);
    if (info != 0) return dc_error(DC_ERR_NUMERIC, "eigen-decomposition of %s: LAPACK workspace query failed (info %d)", what, info);
    lwork = (int)wq;
    liwork = iq;
    double *work = malloc((size_t)lwork * sizeof(double));
    int *iwork = malloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) {
        free(work);
        free(iwork);
        return dc_error(DC_ERR_NOMEM, "eigen-decomposition of %s (%lld x %lld): out of memory", what, (long long)n,
                        (long long)n);
    }
    dsyevd_("V", "L", &nn, a, &nn, w, work, &lwork, iwork, &liwork, &info);
    free(work);
    free(iwork);
    if (info != 0)
        return dc_error(DC_ERR_NUMERIC, "eigen-decomposition of %s (%lld x %lld): LAPACK dsyevd did not converge (info %d)",
                        what, (long long)n, (long long)n, info);
    return DC_OK;
}
