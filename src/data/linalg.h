/* data: dense linear algebra shared by the statistics of data sets (PCA, the Frechet distance),
 * on LAPACK, which OpenBLAS ships. */
#ifndef DC_DATA_LINALG_H
#define DC_DATA_LINALG_H

#include <stdint.h>

#include "deepc/base.h"

/* Eigen-decomposition of the symmetric n x n matrix a (row-major; only its lower triangle in
 * LAPACK's sense is read, so a must be symmetric): on success w[0..n) holds the eigenvalues in
 * ascending order and row i of a (a[i*n .. i*n+n)) the unit eigenvector of w[i]. `what` names the
 * matrix in messages. DC_ERR_ARG for n < 1 or n above 65536, DC_ERR_NOMEM, DC_ERR_NUMERIC when
 * LAPACK's dsyevd does not converge or a is not finite. */
dc_status dc_sym_eigen(int64_t n, double *a, double *w, const char *what);

#endif /* DC_DATA_LINALG_H */
