/*
 * libcleanclip_mpi.so: the few MPI collectives cleanclip's data-parallel runs use, behind a
 * plain C interface so that the Swift library never links MPI. The library dlopens this plugin
 * only when the process was started by an MPI launcher (mpirun, srun); without it nothing of
 * MPI is loaded. Built by scripts/build_mpi_plugin.sh with the MPI's own compiler wrapper
 * (mpicc), so the plugin matches the MPI that launches it.
 *
 * Every function returns 0 on success or an MPI error code, with a message in `err` where the
 * function takes one. Errors return instead of aborting (MPI_ERRORS_RETURN on the world
 * communicator). Calls come from one thread at a time (MPI_THREAD_SERIALIZED).
 *
 * Counts are in elements and may exceed INT_MAX: the large collectives go in chunks.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CCMPI_ABI 1
/* The largest element count one MPI call is given (well below INT_MAX). */
#define CHUNK ((int64_t)1 << 28)

static void message(int code, const char *what, char *err, size_t cap) {
    if (!err || cap == 0) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", code);
    snprintf(err, cap, "%s: %s", what, text);
}

int ccmpi_abi_version(void) { return CCMPI_ABI; }

/* MPI_Finalize at exit when this plugin initialised MPI (a host that did, e.g. mpi4py, finalises
 * it itself). A process that exits without it is reported by mpirun as failed. */
static void finalize_at_exit(void) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

int ccmpi_init(char *err, size_t cap) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
        if (rc != MPI_SUCCESS) { message(rc, "MPI_Init_thread", err, cap); return rc; }
        if (provided < MPI_THREAD_SERIALIZED) {
            if (err && cap) snprintf(err, cap, "MPI_Init_thread: this MPI provides thread level %d, below MPI_THREAD_SERIALIZED", provided);
            return MPI_ERR_OTHER;
        }
        atexit(finalize_at_exit);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return MPI_SUCCESS;
}

int ccmpi_rank(void) { int r = -1; MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
int ccmpi_size(void) { int s = -1; MPI_Comm_size(MPI_COMM_WORLD, &s); return s; }

/* recv[size * count] = every rank's send[count], in rank order. */
int ccmpi_allgather_floats(const float *send, int64_t count, float *recv, char *err, size_t cap) {
    if (count > CHUNK) { if (err && cap) snprintf(err, cap, "allgather: %lld floats per rank is over the limit", (long long)count); return MPI_ERR_COUNT; }
    int rc = MPI_Allgather(send, (int)count, MPI_FLOAT, recv, (int)count, MPI_FLOAT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) message(rc, "MPI_Allgather", err, cap);
    return rc;
}

/* recv = every rank's send (counts[r] floats from rank r) concatenated in rank order. */
int ccmpi_allgatherv_floats(const float *send, int64_t count, float *recv, const int64_t *counts, char *err, size_t cap) {
    int size = ccmpi_size();
    int c[size > 0 ? size : 1], d[size > 0 ? size : 1];
    int64_t offset = 0;
    for (int r = 0; r < size; r++) {
        if (counts[r] > CHUNK || offset > INT32_MAX - counts[r]) {
            if (err && cap) snprintf(err, cap, "allgatherv: %lld floats in all is over the limit", (long long)(offset + counts[r]));
            return MPI_ERR_COUNT;
        }
        c[r] = (int)counts[r];
        d[r] = (int)offset;
        offset += counts[r];
    }
    int rc = MPI_Allgatherv(send, (int)count, MPI_FLOAT, recv, c, d, MPI_FLOAT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) message(rc, "MPI_Allgatherv", err, cap);
    return rc;
}

/* buffer[i] = the sum over ranks of buffer[i], in place. */
int ccmpi_allreduce_sum_floats(float *buffer, int64_t count, char *err, size_t cap) {
    for (int64_t start = 0; start < count; start += CHUNK) {
        int n = (int)(count - start < CHUNK ? count - start : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buffer + start, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) { message(rc, "MPI_Allreduce", err, cap); return rc; }
    }
    return MPI_SUCCESS;
}

/* bytes[count] from rank `root` to every rank. */
int ccmpi_bcast_bytes(void *bytes, int64_t count, int root, char *err, size_t cap) {
    for (int64_t start = 0; start < count; start += CHUNK) {
        int n = (int)(count - start < CHUNK ? count - start : CHUNK);
        int rc = MPI_Bcast((char *)bytes + start, n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) { message(rc, "MPI_Bcast", err, cap); return rc; }
    }
    return MPI_SUCCESS;
}

int ccmpi_barrier(char *err, size_t cap) {
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) message(rc, "MPI_Barrier", err, cap);
    return rc;
}

/* Ends every rank of the job (after an error on one rank, so that the others do not wait forever). */
void ccmpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

int ccmpi_finalize(void) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    return finalized ? MPI_SUCCESS : MPI_Finalize();
}
