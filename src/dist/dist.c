/* Data parallelism over MPI: initialisation, and the communicator (base/comm.h) that fit,
 * evaluate and synchronised batch norm call through. Built with MPI when CMake finds it
 * (DC_HAVE_MPI); otherwise one rank, and no communicator is ever installed. */
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef DC_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1;
static bool g_init, g_owns_mpi, g_active = true;

int dc_dist_rank(void) { return g_rank; }
int dc_dist_size(void) { return g_size; }
bool dc_dist_available(void) {
#ifdef DC_HAVE_MPI
    return true;
#else
    return false;
#endif
}

static void install(void);

void dc_dist_set_active(bool active) {
    g_active = active;
    install();
}

#ifdef DC_HAVE_MPI
static dc_status mpi_fail(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    return dc_error(DC_ERR_IO, "dist: %s failed: %s", what, msg);
}
#define MPI_TRY(call, what)                                                                                            \
    do {                                                                                                               \
        int rc_ = (call);                                                                                              \
        if (rc_ != MPI_SUCCESS) return mpi_fail(rc_, what);                                                            \
    } while (0)
#endif

#ifndef DC_HAVE_MPI
/* The rank count a launcher announces (Open MPI, MPICH/Hydra, Slurm), 0 if none. */
static int launcher_size(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < DC_ARRAY_LEN(vars); i++) {
        const char *e = getenv(vars[i]);
        if (e && atoi(e) > 0) return atoi(e);
    }
    return 0;
}
#endif

dc_status dc_dist_init(int *argc, char ***argv) {
    if (g_init) return DC_OK;
#ifdef DC_HAVE_MPI
    int inited = 0, done = 0;
    MPI_Finalized(&done);
    if (done) return dc_error(DC_ERR_STATE, "dist: MPI was finalised and cannot start again in this process");
    MPI_Initialized(&inited);
    if (!inited) {
        MPI_TRY(MPI_Init(argc, argv), "MPI_Init");
        g_owns_mpi = true;
    }
    /* errors come back as statuses, so fit can report them instead of the job aborting */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_TRY(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank), "MPI_Comm_rank");
    MPI_TRY(MPI_Comm_size(MPI_COMM_WORLD, &g_size), "MPI_Comm_size");
    /* ranks sharing a host share its cores: without DEEPC_THREADS each takes its part */
    MPI_Comm local;
    int nlocal = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_size(local, &nlocal);
        MPI_Comm_free(&local);
    }
    const char *e = getenv("DEEPC_THREADS");
    if (nlocal > 1 && !(e && atoi(e) > 0)) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        dc_set_threads_adaptive(cores > nlocal ? (int)(cores / nlocal) : 1);
    }
#else
    (void)argc;
    (void)argv;
    int n = launcher_size();
    if (n > 1)
        return dc_error(DC_ERR_STATE, "dist: launched as one of %d ranks, but deepc was built without MPI (install libopenmpi-dev and "
                        "rebuild); each rank would train alone",
                        n);
#endif
    g_init = true;
    install();
    return DC_OK;
}

void dc_dist_finalize(void) {
    g_init = false;
    install(); /* none: nothing may reach MPI after it is finalised */
#ifdef DC_HAVE_MPI
    int done = 0;
    MPI_Finalized(&done);
    if (g_owns_mpi && !done) MPI_Finalize();
#endif
    g_owns_mpi = false;
    g_rank = 0;
    g_size = 1;
}

#ifdef DC_HAVE_MPI
/* True when the collectives go over MPI: dc_dist_init ran, there is more than one rank, and
 * dc_dist_set_active has not switched them off. Exactly then the communicator is installed. */
static bool dist_on(void) { return g_init && g_active && g_size > 1; }

/* The collectives over MPI_COMM_WORLD. Each is reached only through the installed communicator;
 * a caller that kept the pointer past dc_dist_set_active(false) or dc_dist_finalize gets the
 * one-process result, as with no communicator, instead of a call into MPI. */

static dc_status mpi_sum_f(float *buf, int64_t n) {
    if (!dist_on()) return DC_OK;
    for (int64_t off = 0; off < n; off += DC_DIST_BUCKET) {
        int cnt = (int)DC_MIN(DC_DIST_BUCKET, n - off);
        MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "all-reduce of the gradients");
    }
    return DC_OK;
}

static dc_status mpi_sum_d(double *buf, int n) {
    if (!dist_on()) return DC_OK;
    MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "all-reduce of the metrics");
    return DC_OK;
}

static dc_status mpi_bcast_f(float *buf, int64_t n) {
    if (!dist_on()) return DC_OK;
    for (int64_t off = 0; off < n; off += DC_DIST_BUCKET) {
        int cnt = (int)DC_MIN(DC_DIST_BUCKET, n - off);
        MPI_TRY(MPI_Bcast(buf + off, cnt, MPI_FLOAT, 0, MPI_COMM_WORLD), "broadcast of the parameters");
    }
    return DC_OK;
}

/* One all-reduce of 2n values: the maximum of -v gives the minimum of v. */
static dc_status mpi_minmax(const int64_t *v, int n, int64_t *lo, int64_t *hi) {
    for (int i = 0; i < n; i++) lo[i] = hi[i] = v[i];
    if (!dist_on()) return DC_OK;
    long long b[32];
    if (n > 16) return dc_error(DC_ERR_ARG, "dist: minmax of %d values (16 at most)", n);
    for (int i = 0; i < n; i++) {
        b[i] = -(long long)v[i];
        b[n + i] = (long long)v[i];
    }
    MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, b, 2 * n, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD), "all-reduce");
    for (int i = 0; i < n; i++) {
        lo[i] = -(int64_t)b[i];
        hi[i] = (int64_t)b[n + i];
    }
    return DC_OK;
}

/* The lowest failing rank (size if none) by an all-reduce, then its status and message by a
 * broadcast from it, so no rank waits for one that has given up. */
static dc_status mpi_agree(dc_status s, const char *who) {
    if (!dist_on()) return s;
    int first = s ? g_rank : g_size;
    MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "status all-reduce");
    if (first == g_size) return DC_OK;
    struct {
        int status;
        char msg[480];
    } m;
    memset(&m, 0, sizeof m);
    if (g_rank == first) {
        m.status = (int)s;
        const char *e = dc_last_error();
        size_t wl = strlen(who);
        if (strncmp(e, who, wl) == 0 && e[wl] == ':' && e[wl + 1] == ' ') e += wl + 2; /* "fit: " once is enough */
        snprintf(m.msg, sizeof m.msg, "%s", e);
    }
    MPI_TRY(MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD), "error broadcast");
    return dc_error((dc_status)m.status, "%s: rank %d failed: %s", who, first, m.msg);
}

/* rank and size are filled in by install(), before the pointer is published. */
static dc_comm mpi_comm = {
    .sum_f = mpi_sum_f,
    .sum_d = mpi_sum_d,
    .bcast_f = mpi_bcast_f,
    .minmax = mpi_minmax,
    .agree = mpi_agree,
};
#endif

/* Installs the MPI communicator while the collectives are on, and none otherwise. */
static void install(void) {
#ifdef DC_HAVE_MPI
    if (dist_on()) {
        mpi_comm.rank = g_rank;
        mpi_comm.size = g_size;
        dc_comm_install(&mpi_comm);
        return;
    }
#endif
    dc_comm_install(NULL);
}
