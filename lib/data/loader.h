/*
 * data_internal.h: helpers shared by the dataset loaders (data_cifar.c, data_fashion.c).
 * Not part of the public API.
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

/* Fashion-MNIST loader (data_fashion.c); root as given to rv_data_load (NULL = default). */
rv_status rv_data_load_fashion(rv_ctx *ctx, rv_dataset *out, int train, const char *root);

#endif
