/*
 * op_args.h (internal): argument checks shared by the public op wrappers (batchnorm.c,
 * activation.c, pool.c, linear.c, loss.c, sgd.c).
 *
 * Each macro returns from the calling wrapper with RV_ERR_ARG and a message naming the op and
 * the argument, so a caller sees "bn_forward: gamma is NULL" rather than a crash. A NULL
 * context cannot hold a message, so it is reported by the status alone.
 */
#ifndef RV_OP_ARGS_H
#define RV_OP_ARGS_H

#include <revnet/context.h>

#define RV_ARG_CTX(ctx)                                                                   \
    do {                                                                                  \
        if (!(ctx)) return RV_ERR_ARG;                                                    \
    } while (0)

#define RV_ARG_PTR(ctx, op, p)                                                            \
    do {                                                                                  \
        if (!(p)) return rv_ctx_fail((ctx), RV_ERR_ARG, "%s: %s is NULL", (op), #p);      \
    } while (0)

/* Sizes are ints in the op signatures; zero or negative is always a caller bug. */
#define RV_ARG_POS(ctx, op, v)                                                            \
    do {                                                                                  \
        if ((v) <= 0)                                                                     \
            return rv_ctx_fail((ctx), RV_ERR_ARG, "%s: %s must be positive (got %lld)",  \
                               (op), #v, (long long)(v));                                 \
    } while (0)

/* Accumulation switches (beta, beta_acc) are flags, not scale factors: only 0 and 1 are
 * supported, so that beta 0 never reads an output that may hold garbage. */
#define RV_ARG_BETA(ctx, op, b)                                                           \
    do {                                                                                  \
        if ((b) != 0.0f && (b) != 1.0f)                                                   \
            return rv_ctx_fail((ctx), RV_ERR_ARG, "%s: %s must be 0 or 1 (got %g)", (op), \
                               #b, (double)(b));                                          \
    } while (0)

/* The checks most wrappers make, in one line: the context, every pointer of the first list
 * non-NULL and every size of the second positive, each failure naming the op and argument:
 *     RV_ARGS(ctx, "gap_forward", (y, x), (N, C, HW));
 * Each list holds 1 to 8 names. */
#define RV_ARGS(ctx, op, ptrs, sizes)                                                     \
    do {                                                                                  \
        RV_ARG_CTX(ctx);                                                                  \
        RV_EACH(RV_ARG_PTR, ctx, op, RV_UNPAREN ptrs);                                    \
        RV_EACH(RV_ARG_POS, ctx, op, RV_UNPAREN sizes);                                   \
    } while (0)

/* RV_EACH(M, c, o, a, b, ...) is M(c, o, a); M(c, o, b); ... for up to 8 names. */
#define RV_UNPAREN(...) __VA_ARGS__
#define RV_EACH(M, c, o, ...)                                                             \
    RV_EACH_PICK(__VA_ARGS__, RV_EACH8, RV_EACH7, RV_EACH6, RV_EACH5, RV_EACH4, RV_EACH3, \
                 RV_EACH2, RV_EACH1, )(M, c, o, __VA_ARGS__)
#define RV_EACH_PICK(_1, _2, _3, _4, _5, _6, _7, _8, name, ...) name
#define RV_EACH1(M, c, o, a) M(c, o, a)
#define RV_EACH2(M, c, o, a, ...) M(c, o, a); RV_EACH1(M, c, o, __VA_ARGS__)
#define RV_EACH3(M, c, o, a, ...) M(c, o, a); RV_EACH2(M, c, o, __VA_ARGS__)
#define RV_EACH4(M, c, o, a, ...) M(c, o, a); RV_EACH3(M, c, o, __VA_ARGS__)
#define RV_EACH5(M, c, o, a, ...) M(c, o, a); RV_EACH4(M, c, o, __VA_ARGS__)
#define RV_EACH6(M, c, o, a, ...) M(c, o, a); RV_EACH5(M, c, o, __VA_ARGS__)
#define RV_EACH7(M, c, o, a, ...) M(c, o, a); RV_EACH6(M, c, o, __VA_ARGS__)
#define RV_EACH8(M, c, o, a, ...) M(c, o, a); RV_EACH7(M, c, o, __VA_ARGS__)

#endif
