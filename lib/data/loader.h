/*
 * loader.h (internal): what loader.c gives the format loaders (cifar.c, fashion_mnist.c) and
 * what they give loader.c. The loaders include this header only, never each other.
 */
#ifndef RV_DATA_INTERNAL_H
#define RV_DATA_INTERNAL_H

#include <revnet/data.h>

/* Image shape every loader produces. */
#define RV_IMG_C 3
#define RV_IMG_H 32
#define RV_IMG_W 32
#define RV_IMG_BYTES (RV_IMG_C * RV_IMG_H * RV_IMG_W)

/* Zeroes *out and allocates n images of 3x32x32 and n labels, with the given name, split and
 * class count. RV_ERR_NOMEM (message set) on failure, *out left empty. */
rv_status rv_data_alloc(rv_ctx *ctx, rv_dataset *out, const char *name, int train, int n,
                        int n_classes);

/* The format loaders, one split each (train 1 or 0); root as given to rv_data_load (NULL: the
 * default lookup). *out is zeroed on entry and left empty on failure. */
rv_status rv_data_load_cifar10(rv_ctx *ctx, rv_dataset *out, int train, const char *root);
rv_status rv_data_load_cifar100(rv_ctx *ctx, rv_dataset *out, int train, const char *root);
rv_status rv_data_load_fashion(rv_ctx *ctx, rv_dataset *out, int train, const char *root);

#endif
