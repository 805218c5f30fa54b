/* mt_cpu_plan.c - evaluate-mode runs of a trunk + heads net on the CPU (see mt_plan.h). */
#include "nn/mt_plan.h"

#include "core/mt_alloc.h"
#include "core/mt_threads.h"
#include "cpu/mt_cpu.h"
#include "cpu/conv/mt_cpu_conv.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_CONV, OP_LINEAR, OP_SOFTMAX };
static const char *const op_names[] = {"conv", "linear", "softmax"};

typedef struct plan_op {
    int kind;
    mt_tensor *w, *b, *prelu; /* retained; NULL where absent */
    mt_conv2d_desc d;
    int pool;
    mt_pool2d_desc pd;
} plan_op;

typedef struct plan_branch {
    plan_op *ops;
    int n, cap;
} plan_branch;

/* Activation buffers of one thread: the trunk alternates between 0 and 1, heads between 2
 * and 3 (the trunk's output stays readable for every head). */
#define PLAN_SLOTS 4
typedef struct plan_buffers {
    float *p[PLAN_SLOTS];
    size_t bytes[PLAN_SLOTS];
} plan_buffers;

struct mt_plan {
    int nheads;
    plan_branch trunk, heads[MT_PLAN_MAX_HEADS];
    plan_buffers buf[MT_MAX_THREADS];
};

/* Samples per part of a batch with several threads (one thread runs the batch whole: every
 * part repeats the kernels' per-call work, such as packing and transforming the weights,
 * and measured no faster for the smaller activations; ONet's 45 crops in 4 parts on 2
 * threads measured 10% slower than in 2). */
#define PLAN_PART_SAMPLES 64

mt_status mt_plan_new(mt_plan **out, int nheads) {
    *out = NULL;
    if (nheads < 1 || nheads > MT_PLAN_MAX_HEADS)
        return mt_fail(MT_ERR_ARG, "plan: %d heads (1 to %d)", nheads, MT_PLAN_MAX_HEADS);
    mt_plan *p = (mt_plan *)calloc(1, sizeof *p);
    if (!p) return mt_fail(MT_ERR_OOM, "plan: out of memory");
    p->nheads = nheads;
    *out = p;
    return MT_OK;
}

static void branch_free(plan_branch *br) {
    for (int i = 0; i < br->n; i++) {
        mt_tensor_release(br->ops[i].w);
        mt_tensor_release(br->ops[i].b);
        mt_tensor_release(br->ops[i].prelu);
    }
    free(br->ops);
}

void mt_plan_free(mt_plan *p) {
    if (!p) return;
    branch_free(&p->trunk);
    for (int h = 0; h < p->nheads; h++) branch_free(&p->heads[h]);
    for (int t = 0; t < MT_MAX_THREADS; t++)
        for (int s = 0; s < PLAN_SLOTS; s++) mt_host_free(p->buf[t].p[s], p->buf[t].bytes[s]);
    free(p);
}

int mt_plan_heads(const mt_plan *p) { return p->nheads; }

static mt_status check_cpu(const char *what, const mt_tensor *t) {
    if (t && mt_tensor_device(t) != MT_CPU)
        return mt_fail(MT_ERR_DEVICE, "plan: %s must be a CPU tensor, got one on %s", what,
                       mt_device_name(mt_tensor_device(t)));
    if (t && !mt_tensor_is_contiguous(t))
        return mt_fail(MT_ERR_ARG, "plan: %s must be contiguous", what);
    return MT_OK;
}

static mt_status check_vec(const char *what, const mt_tensor *t, int64_t n) {
    if (!t) return MT_OK;
    MT_TRY(check_cpu(what, t));
    if (t->ndim != 1 || t->shape[0] != n) {
        char s[MT_SHAPE_STR];
        return mt_fail(MT_ERR_SHAPE, "plan: %s must be a vector of %lld values, got %s", what,
                       (long long)n, mt_tensor_shape_str(t, s));
    }
    return MT_OK;
}

static mt_status add_op(mt_plan *p, int head, const plan_op *op) {
    if (head < -1 || head >= p->nheads)
        return mt_fail(MT_ERR_ARG, "plan: head %d out of range (%d heads)", head + 1, p->nheads);
    plan_branch *br = head < 0 ? &p->trunk : &p->heads[head];
    if (br->n == br->cap) {
        int cap = br->cap ? 2 * br->cap : 8;
        plan_op *ops = (plan_op *)realloc(br->ops, sizeof(plan_op) * (size_t)cap);
        if (!ops) return mt_fail(MT_ERR_OOM, "plan: out of memory");
        br->ops = ops;
        br->cap = cap;
    }
    plan_op *o = &br->ops[br->n++];
    *o = *op;
    if (o->w) mt_tensor_retain(o->w);
    if (o->b) mt_tensor_retain(o->b);
    if (o->prelu) mt_tensor_retain(o->prelu);
    return MT_OK;
}

/* The parameters of a layer: its weight (kind "conv" or "linear", ndim dimensions), and its
 * bias and PReLU slopes (may be NULL), one per output. */
static mt_status check_layer(const char *kind, const mt_tensor *w, int ndim, const mt_tensor *b,
                             const mt_tensor *prelu) {
    MT_TRY(check_cpu("the weight", w));
    if (w->ndim != ndim) {
        char s[MT_SHAPE_STR];
        return mt_fail(MT_ERR_SHAPE, "plan: a %s weight must have %d dimensions, got %s", kind,
                       ndim, mt_tensor_shape_str(w, s));
    }
    MT_TRY(check_vec("the bias", b, w->shape[0]));
    return check_vec("the PReLU slopes", prelu, w->shape[0]);
}

mt_status mt_plan_add_conv(mt_plan *p, int head, const mt_tensor *w, const mt_tensor *b,
                           const mt_tensor *prelu, const mt_conv2d_desc *d,
                           const mt_pool2d_desc *pool) {
    MT_TRY(check_layer("conv", w, 4, b, prelu));
    if (d->stride_h < 1 || d->stride_w < 1 || d->pad_h < 0 || d->pad_w < 0)
        return mt_fail(MT_ERR_ARG, "plan: strides must be >= 1 and padding >= 0");
    if (pool && (pool->kernel_h < 1 || pool->kernel_w < 1 || pool->stride_h < 1 ||
                 pool->stride_w < 1))
        return mt_fail(MT_ERR_ARG, "plan: pooling kernel and stride must be >= 1");
    plan_op op = {.kind = OP_CONV, .w = (mt_tensor *)w, .b = (mt_tensor *)b,
                  .prelu = (mt_tensor *)prelu, .d = *d, .pool = pool != NULL};
    if (pool) op.pd = *pool;
    return add_op(p, head, &op);
}

mt_status mt_plan_add_linear(mt_plan *p, int head, const mt_tensor *w, const mt_tensor *b,
                             const mt_tensor *prelu) {
    MT_TRY(check_layer("linear", w, 2, b, prelu));
    plan_op op = {.kind = OP_LINEAR, .w = (mt_tensor *)w, .b = (mt_tensor *)b,
                  .prelu = (mt_tensor *)prelu};
    return add_op(p, head, &op);
}

mt_status mt_plan_add_softmax(mt_plan *p, int head) {
    plan_op op = {.kind = OP_SOFTMAX};
    return add_op(p, head, &op);
}

/* ---- shapes -------------------------------------------------------------------------------- */

/* Output shape of op for input shape in (ndim dims); fails naming the layer. */
static mt_status op_shape(const plan_op *op, int index, const char *where, int ndim,
                          const int64_t *in, int *ondim, int64_t *out) {
    char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
    const char *name = op_names[op->kind];
    if (op->kind == OP_CONV) {
        if (ndim != 4 || in[1] != op->w->shape[1])
            return mt_fail(MT_ERR_SHAPE, "plan: %s layer %d (conv): input %s does not fit the "
                                         "weight %s", where, index + 1,
                           mt_shape_str(a, ndim, in), mt_tensor_shape_str(op->w, b));
        int64_t oh = mt_conv2d_out_size(in[2], (int)op->w->shape[2], op->d.stride_h,
                                        op->d.pad_h);
        int64_t ow = mt_conv2d_out_size(in[3], (int)op->w->shape[3], op->d.stride_w,
                                        op->d.pad_w);
        if (oh < 1 || ow < 1)
            return mt_fail(MT_ERR_SHAPE, "plan: %s layer %d (conv): input %s is smaller than "
                                         "the kernel %s", where, index + 1,
                           mt_shape_str(a, ndim, in), mt_tensor_shape_str(op->w, b));
        if (op->pool) {
            oh = mt_pool2d_out_size(oh, op->pd.kernel_h, op->pd.stride_h);
            ow = mt_pool2d_out_size(ow, op->pd.kernel_w, op->pd.stride_w);
        }
        *ondim = 4;
        out[0] = in[0], out[1] = op->w->shape[0], out[2] = oh, out[3] = ow;
        return MT_OK;
    }
    if (op->kind == OP_LINEAR) {
        int64_t feat = 1;
        for (int i = 1; i < ndim; i++) feat *= in[i];
        if (ndim < 2 || feat != op->w->shape[1])
            return mt_fail(MT_ERR_SHAPE, "plan: %s layer %d (linear): input %s does not fit the "
                                         "weight %s", where, index + 1,
                           mt_shape_str(a, ndim, in), mt_tensor_shape_str(op->w, b));
        *ondim = 2;
        out[0] = in[0], out[1] = op->w->shape[0];
        return MT_OK;
    }
    if (ndim < 2)
        return mt_fail(MT_ERR_SHAPE, "plan: %s layer %d (%s): input %s has no channels", where,
                       index + 1, name, mt_shape_str(a, ndim, in));
    *ondim = ndim;
    memcpy(out, in, sizeof(int64_t) * (size_t)ndim);
    return MT_OK;
}

static int64_t numel_of(int ndim, const int64_t *s) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= s[i];
    return n;
}

/* The output shape of a branch for input shape in. */
static mt_status branch_shape(const plan_branch *br, const char *where, int ndim,
                              const int64_t *in, int *ondim, int64_t *out) {
    int64_t cur[MT_MAX_DIMS];
    int cn = ndim;
    memcpy(cur, in, sizeof(int64_t) * (size_t)ndim);
    for (int i = 0; i < br->n; i++) {
        int64_t next[MT_MAX_DIMS];
        int nn;
        MT_TRY(op_shape(&br->ops[i], i, where, cn, cur, &nn, next));
        cn = nn;
        memcpy(cur, next, sizeof(int64_t) * (size_t)nn);
    }
    *ondim = cn;
    memcpy(out, cur, sizeof(int64_t) * (size_t)cn);
    return MT_OK;
}

/* ---- running -------------------------------------------------------------------------------- */

/* One op on contiguous arrays: input shape in (ndim dims) at x, output (shape out) at y. */
static mt_status op_run(const plan_op *op, int ndim, const int64_t *in, const float *x,
                        const int64_t *out, float *y) {
    const float *b = op->b ? mt_tensor_data(op->b) : NULL;
    const float *a = op->prelu ? mt_tensor_data(op->prelu) : NULL;
    if (op->kind == OP_CONV) {
        const mt_tensor *w = op->w;
        mt_conv_geom g = {.n = in[0], .cin = in[1], .h = in[2], .w = in[3], .cout = w->shape[0],
                          .kh = w->shape[2], .kw = w->shape[3], .sh = op->d.stride_h,
                          .sw = op->d.stride_w, .ph = op->d.pad_h, .pw = op->d.pad_w};
        g.oh = mt_conv2d_out_size(g.h, (int)g.kh, (int)g.sh, (int)g.ph);
        g.ow = mt_conv2d_out_size(g.w, (int)g.kw, (int)g.sw, (int)g.pw);
        if (op->pool)
            return mt_cpu_conv_pool_forward_raw(&g, &op->pd, out[2], out[3], x, mt_tensor_data(w),
                                                b, a, y);
        return mt_cpu_conv_forward_raw(&g, x, mt_tensor_data(w), b, a, y);
    }
    if (op->kind == OP_LINEAR)
        return mt_cpu_linear_forward_raw(in[0], op->w->shape[1], op->w->shape[0], x,
                                         mt_tensor_data(op->w), b, a, y);
    const int64_t hw = numel_of(ndim, in) / (in[0] * in[1] > 0 ? in[0] * in[1] : 1);
    mt_cpu_softmax_forward_raw(x, in[0], in[1], hw, y);
    return MT_OK;
}

/* Slot s of thread t with room for n floats (grown, never shrunk). */
static float *slot(mt_plan *p, int t, int s, int64_t n) {
    plan_buffers *bf = &p->buf[t];
    size_t need = sizeof(float) * (size_t)(n > 0 ? n : 1);
    if (bf->bytes[s] < need) {
        float *q = (float *)mt_host_alloc(need, "plan activations");
        if (!q) return NULL;
        mt_host_free(bf->p[s], bf->bytes[s]);
        bf->p[s] = q;
        bf->bytes[s] = need;
    }
    return bf->p[s];
}

typedef struct run_job {
    mt_plan *p;
    int n;                     /* inputs */
    const mt_tensor *const *x;
    mt_tensor *const *out;
    int64_t parts, part;       /* one input: parts of `part` samples */
    int64_t order[64];         /* several inputs: task -> input, largest first */
    pthread_mutex_t lock;
    mt_status status;          /* the first failure, and its message */
    char message[512];
} run_job;

static void fail_task(run_job *j, mt_status st) {
    pthread_mutex_lock(&j->lock);
    if (j->status == MT_OK) {
        j->status = st;
        snprintf(j->message, sizeof j->message, "%s", mt_last_error());
    }
    pthread_mutex_unlock(&j->lock);
}

/* Runs branch br from input shape in at x, ping-ponging between slots s0 and s0 + 1 of
 * thread t; the last layer writes to `last` (NULL: a slot). Returns the output array and
 * shape, or NULL after a failure. */
static const float *run_branch(run_job *j, const plan_branch *br, const char *where, int t,
                               int s0, int ndim, const int64_t *in, const float *x, float *last,
                               int *ondim, int64_t *oshape) {
    int64_t cur[MT_MAX_DIMS];
    int cn = ndim;
    memcpy(cur, in, sizeof(int64_t) * (size_t)ndim);
    const float *src = x;
    for (int i = 0; i < br->n; i++) {
        int64_t next[MT_MAX_DIMS];
        int nn;
        mt_status st = op_shape(&br->ops[i], i, where, cn, cur, &nn, next);
        float *dst = i == br->n - 1 && last ? last : slot(j->p, t, s0 + i % 2, numel_of(nn, next));
        if (st == MT_OK && !dst) st = MT_ERR_OOM;
        if (st == MT_OK && mt_interrupted()) st = mt_interrupt_fail("plan");
        if (st == MT_OK) st = op_run(&br->ops[i], cn, cur, src, next, dst);
        if (st != MT_OK) {
            fail_task(j, st);
            return NULL;
        }
        src = dst;
        cn = nn;
        memcpy(cur, next, sizeof(int64_t) * (size_t)nn);
    }
    *ondim = cn;
    memcpy(oshape, cur, sizeof(int64_t) * (size_t)cn);
    return src;
}

/* Input i, samples [s0, s0 + ns): the trunk, then every head into its output rows. */
static void run_part(run_job *j, int i, int64_t s0, int64_t ns, int t) {
    const mt_tensor *x = j->x[i];
    int64_t in[MT_MAX_DIMS], shape[MT_MAX_DIMS];
    memcpy(in, x->shape, sizeof in);
    in[0] = ns;
    const int64_t per_in = ns ? numel_of(x->ndim, in) / ns : 0;
    int nd;
    const float *trunk = run_branch(j, &j->p->trunk, "trunk", t, 0, x->ndim, in,
                                    mt_tensor_data(x) + s0 * per_in, NULL, &nd, shape);
    if (!trunk) return;
    for (int h = 0; h < j->p->nheads; h++) {
        mt_tensor *o = j->out[i * j->p->nheads + h];
        const int64_t per_out = o->shape[0] ? mt_tensor_numel(o) / o->shape[0] : 0;
        char where[16];
        snprintf(where, sizeof where, "head %d", h + 1);
        int hd;
        int64_t hs[MT_MAX_DIMS];
        const plan_branch *br = &j->p->heads[h];
        float *dst = mt_tensor_data(o) + s0 * per_out;
        if (br->n == 0) { /* a head without layers: the trunk's output itself */
            memcpy(dst, trunk, sizeof(float) * (size_t)(ns * per_out));
            continue;
        }
        if (!run_branch(j, br, where, t, 2, nd, shape, trunk, dst, &hd, hs)) return;
    }
}

static void run_task(void *ctx, int64_t task, int thread) {
    run_job *j = (run_job *)ctx;
    if (j->n == 1) {
        const int64_t total = j->x[0]->shape[0];
        const int64_t s0 = task * j->part;
        const int64_t ns = total - s0 < j->part ? total - s0 : j->part;
        if (ns > 0) run_part(j, 0, s0, ns, thread);
    } else {
        const int i = (int)j->order[task];
        run_part(j, i, 0, j->x[i]->shape[0], thread);
    }
}

mt_status mt_plan_run(mt_plan *p, int n, const mt_tensor *const *x, mt_tensor *const *out) {
    if (n < 1 || n > 64) return mt_fail(MT_ERR_ARG, "plan: %d inputs (1 to 64)", n);
    /* check everything and size the outputs before any work starts */
    for (int i = 0; i < n; i++) {
        MT_TRY(check_cpu("an input", x[i]));
        if (x[i]->ndim < 2) {
            char s[MT_SHAPE_STR];
            return mt_fail(MT_ERR_SHAPE, "plan: input %s is not a batch [N, ...]",
                           mt_tensor_shape_str(x[i], s));
        }
        int nd;
        int64_t ts[MT_MAX_DIMS];
        MT_TRY(branch_shape(&p->trunk, "trunk", x[i]->ndim, x[i]->shape, &nd, ts));
        for (int h = 0; h < p->nheads; h++) {
            mt_tensor *o = out[i * p->nheads + h];
            if (mt_tensor_device(o) != MT_CPU)
                return mt_fail(MT_ERR_DEVICE, "plan: outputs must be CPU tensors");
            for (int k = 0; k < n; k++)
                if (o->buf == x[k]->buf)
                    return mt_fail(MT_ERR_ARG, "plan: an output shares memory with an input");
            int hd;
            int64_t hs[MT_MAX_DIMS];
            char where[16];
            snprintf(where, sizeof where, "head %d", h + 1);
            MT_TRY(branch_shape(&p->heads[h], where, nd, ts, &hd, hs));
            MT_TRY(mt_tensor_resize(o, hd, hs));
        }
    }
    run_job j = {.p = p, .n = n, .x = x, .out = out, .status = MT_OK};
    pthread_mutex_init(&j.lock, NULL);
    int64_t tasks;
    if (n == 1) {
        /* parts of about PLAN_PART_SAMPLES, a multiple of the thread count (the same number
         * for every thread), of even size; one thread: one part */
        const int64_t total = x[0]->shape[0], threads = mt_threads_count();
        if (total == 0) {
            pthread_mutex_destroy(&j.lock);
            return MT_OK;
        }
        int64_t parts = (total + PLAN_PART_SAMPLES - 1) / PLAN_PART_SAMPLES;
        parts = (parts + threads - 1) / threads * threads;
        if (threads == 1) parts = 1;
        if (parts > total) parts = total;
        if (parts < 1) parts = 1;
        j.part = (total + parts - 1) / parts;
        tasks = j.parts = (total + j.part - 1) / j.part;
    } else {
        /* largest input first: the others fill in around it */
        for (int i = 0; i < n; i++) j.order[i] = i;
        for (int a = 1; a < n; a++)
            for (int b = a; b > 0 && mt_tensor_numel(x[j.order[b]]) >
                                         mt_tensor_numel(x[j.order[b - 1]]); b--) {
                const int64_t tmp = j.order[b];
                j.order[b] = j.order[b - 1];
                j.order[b - 1] = tmp;
            }
        tasks = n;
    }
    if (tasks > 0) mt_parallel_tasks(tasks, run_task, &j);
    pthread_mutex_destroy(&j.lock);
    if (j.status != MT_OK) return mt_fail(j.status, "%s", j.message);
    return MT_OK;
}
