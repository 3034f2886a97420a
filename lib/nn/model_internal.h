/*
 * model_internal.h (internal): the name under which tests/test_model.c, a white-box test of
 * the model's stored tensors and schedules, includes the nn internals. They live in
 * nn_internal.h, which every file of lib/nn/ shares; a header named after model.c would be
 * read as model.c's own and tie the blocks and schedules back up to it.
 */
#ifndef RV_MODEL_INTERNAL_H
#define RV_MODEL_INTERNAL_H

#include "nn/nn_internal.h"

#endif
