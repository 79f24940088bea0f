/* The FFT convolution's use of clFFT: its process-wide setup, counted, and baked 2-D
 * real transforms.
 *
 * clfftSetup and clfftTeardown act on one global repository of plans and compiled
 * programs. Every FFT state holds one reference: the first runs clfftSetup, the last
 * runs clfftTeardown, so no clFFT program (nor the OpenCL context it keeps alive)
 * outlives the last plan. While references are held, clFFT reuses a compiled program
 * for every plan with the same kernel signature on the same device and context. */
#include <pthread.h>
#include "conv/conv2d_fft.h"
#include "error.h"

static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static int setup_refs;

int agecl__fft_smooth_size(int n)
{
    for (int m = n > 1 ? n : 1;; m++) {
        int r = m;
        static const int primes[] = {2, 3, 5, 7};
        for (int i = 0; i < 4; i++)
            while (r % primes[i] == 0) r /= primes[i];
        if (r == 1) return m;
    }
}

static const char *status_name(clfftStatus s)
{
    switch (s) {
    case CLFFT_BUGCHECK: return "CLFFT_BUGCHECK";
    case CLFFT_NOTIMPLEMENTED: return "CLFFT_NOTIMPLEMENTED";
    case CLFFT_TRANSPOSED_NOTIMPLEMENTED: return "CLFFT_TRANSPOSED_NOTIMPLEMENTED";
    case CLFFT_FILE_NOT_FOUND: return "CLFFT_FILE_NOT_FOUND";
    case CLFFT_FILE_CREATE_FAILURE: return "CLFFT_FILE_CREATE_FAILURE";
    case CLFFT_VERSION_MISMATCH: return "CLFFT_VERSION_MISMATCH";
    case CLFFT_INVALID_PLAN: return "CLFFT_INVALID_PLAN";
    case CLFFT_DEVICE_NO_DOUBLE: return "CLFFT_DEVICE_NO_DOUBLE";
    case CLFFT_DEVICE_MISMATCH: return "CLFFT_DEVICE_MISMATCH";
    default: return agecl__cl_error_name(s); /* the OpenCL codes clFFT passes on */
    }
}

agecl_status agecl__clfft_fail(clfftStatus status, const char *op, const char *what)
{
    int memory = status == CLFFT_OUT_OF_HOST_MEMORY || status == CLFFT_OUT_OF_RESOURCES ||
                 status == CLFFT_MEM_OBJECT_ALLOCATION_FAILURE;
    return agecl__fail(memory ? AGECL_E_OUT_OF_MEMORY : AGECL_E_BLAS, "%s: %s: %s (%d)", op, what,
                       status_name(status), (int)status);
}

agecl_status agecl__clfft_acquire(const char *op)
{
    clfftStatus s = CLFFT_SUCCESS;
    pthread_mutex_lock(&setup_lock);
    if (setup_refs == 0) {
        /* What clfftInitSetupData does: the header defines it as a C99 inline
         * function with no external definition, which unoptimised builds fail to
         * link. */
        clfftSetupData data = {clfftVersionMajor, clfftVersionMinor, clfftVersionPatch, 0};
        s = clfftSetup(&data);
    }
    if (s == CLFFT_SUCCESS) setup_refs++;
    pthread_mutex_unlock(&setup_lock);
    return s == CLFFT_SUCCESS ? AGECL_OK : agecl__clfft_fail(s, op, "clfftSetup");
}

void agecl__clfft_release(void)
{
    pthread_mutex_lock(&setup_lock);
    if (setup_refs > 0 && --setup_refs == 0) clfftTeardown();
    pthread_mutex_unlock(&setup_lock);
}

agecl_status agecl__clfft_plan(agecl_ctx *ctx, const char *op, int real_to_complex, int fh, int fw,
                               size_t dist, size_t batch, clfftPlanHandle *plan,
                               size_t *tmp_bytes)
{
    size_t lengths[2] = {(size_t)fw, (size_t)fh};
    size_t real_strides[2] = {1, (size_t)fw}, half_strides[2] = {1, (size_t)(fw / 2 + 1)};
    size_t real_dist = (size_t)fw * fh;
    cl_command_queue queue = agecl_ctx_queue(ctx);
    clfftPlanHandle h;
    clfftStatus s = clfftCreateDefaultPlan(&h, agecl_ctx_cl_context(ctx), CLFFT_2D, lengths);
    if (s != CLFFT_SUCCESS) return agecl__clfft_fail(s, op, "clfftCreateDefaultPlan");
    const char *what = "clfftSetPlanPrecision";
    s = clfftSetPlanPrecision(h, CLFFT_SINGLE);
    if (s == CLFFT_SUCCESS) {
        what = "clfftSetLayout";
        s = real_to_complex ? clfftSetLayout(h, CLFFT_REAL, CLFFT_HERMITIAN_INTERLEAVED)
                            : clfftSetLayout(h, CLFFT_HERMITIAN_INTERLEAVED, CLFFT_REAL);
    }
    if (s == CLFFT_SUCCESS) {
        what = "clfftSetResultLocation";
        s = clfftSetResultLocation(h, CLFFT_OUTOFPLACE);
    }
    if (s == CLFFT_SUCCESS) {
        what = "clfftSetPlanBatchSize";
        s = clfftSetPlanBatchSize(h, batch);
    }
    if (s == CLFFT_SUCCESS) {
        what = "clfftSetPlanInStride";
        s = clfftSetPlanInStride(h, CLFFT_2D, real_to_complex ? real_strides : half_strides);
    }
    if (s == CLFFT_SUCCESS) {
        what = "clfftSetPlanOutStride";
        s = clfftSetPlanOutStride(h, CLFFT_2D, real_to_complex ? half_strides : real_strides);
    }
    if (s == CLFFT_SUCCESS) {
        what = "clfftSetPlanDistance";
        s = real_to_complex ? clfftSetPlanDistance(h, real_dist, dist)
                            : clfftSetPlanDistance(h, dist, real_dist);
    }
    if (s == CLFFT_SUCCESS) { /* the caller scales: both directions stay unscaled */
        what = "clfftSetPlanScale";
        s = clfftSetPlanScale(h, real_to_complex ? CLFFT_FORWARD : CLFFT_BACKWARD, 1.0f);
    }
    if (s == CLFFT_SUCCESS) {
        what = "clfftBakePlan";
        s = clfftBakePlan(h, 1, &queue, NULL, NULL);
    }
    if (s == CLFFT_SUCCESS) {
        what = "clfftGetTmpBufSize";
        s = clfftGetTmpBufSize(h, tmp_bytes);
    }
    if (s != CLFFT_SUCCESS) {
        clfftDestroyPlan(&h);
        return agecl__clfft_fail(s, op, what);
    }
    *plan = h;
    return AGECL_OK;
}

agecl_status agecl__clfft_run(agecl_ctx *ctx, const char *op, clfftPlanHandle plan,
                              int real_to_complex, cl_mem in, cl_mem out, cl_mem tmp)
{
    cl_command_queue queue = agecl_ctx_queue(ctx);
    clfftStatus s = clfftEnqueueTransform(plan, real_to_complex ? CLFFT_FORWARD : CLFFT_BACKWARD,
                                          1, &queue, 0, NULL, NULL, &in, &out, tmp);
    return s == CLFFT_SUCCESS ? AGECL_OK : agecl__clfft_fail(s, op, "clfftEnqueueTransform");
}
