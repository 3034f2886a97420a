/*
 * paper_numbers.h: the paper's own numbers (PAPER.md) as rows of the results database's
 * `paper` table, and the matched pairs of the paper's tables as rows of `pairs`.
 *
 * paper rows: (tbl, arch, dataset, quantity, value, source)
 *   tbl 'params'   quantity 'params_counted' (counted from the official code) and
 *                  'params_paper' (the rounded count printed in the paper), per dataset
 *   tbl 'cifar'    quantity 'test_error' (top-1 test error, percent)
 *   tbl 'imagenet' quantity 'top1_error' (percent, official README)
 *   tbl 'memcnn'   quantities 'test_error' (percent, 100 - reported accuracy),
 *                  'train_hours', 'activation_mib' (MemCNN's PyTorch measurement)
 */
#ifndef RB_PAPER_NUMBERS_H
#define RB_PAPER_NUMBERS_H

struct sqlite3;

/* Inserts (or replaces) every paper and pairs row. The caller holds a write transaction.
 * Returns 0, or -1 with the SQLite message in err. */
int rb_paper_seed(struct sqlite3 *h, char *err, unsigned long err_len);

#endif
