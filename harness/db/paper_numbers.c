/*
 * paper_numbers.c: the numbers the paper (and the independent MemCNN re-run) report, copied
 * from /work/shared/docs/PAPER.md, so that SQL views can set them beside ours. Nothing here
 * is measured; every row carries its source.
 *
 * Owns: nothing (static tables).
 */
#include "db/paper_numbers.h"

#include <sqlite3.h>
#include <stdio.h>

typedef struct {
    const char *tbl, *arch, *dataset, *quantity;
    double value;
    const char *source;
} paper_row;

#define SRC_CODE "parameter count of the official code (PAPER.md architecture table)"
#define SRC_PAPER "RevNet paper, architecture table (rounded)"
#define SRC_CIFAR "RevNet paper, CIFAR table (recalled, PAPER.md)"
#define SRC_IMNET "official revnet-public README"
#define SRC_MEMCNN "MemCNN re-run of the official code, GTX 1080"
#define SRC_MEMCNN_MEM "MemCNN PyTorch activation memory measurement"

static const paper_row ROWS[] = {
    /* Parameter counts: CIFAR-10, CIFAR-100 (final layer differs), ImageNet. */
    { "params", "resnet-32", "cifar10", "params_counted", 464154, SRC_CODE },
    { "params", "revnet-38", "cifar10", "params_counted", 464890, SRC_CODE },
    { "params", "resnet-110", "cifar10", "params_counted", 1727962, SRC_CODE },
    { "params", "revnet-110", "cifar10", "params_counted", 1729194, SRC_CODE },
    { "params", "resnet-164", "cifar10", "params_counted", 1703258, SRC_CODE },
    { "params", "revnet-164", "cifar10", "params_counted", 1748778, SRC_CODE },
    { "params", "resnet-32", "cifar100", "params_counted", 470004, SRC_CODE },
    { "params", "revnet-38", "cifar100", "params_counted", 475060, SRC_CODE },
    { "params", "resnet-110", "cifar100", "params_counted", 1733812, SRC_CODE },
    { "params", "revnet-110", "cifar100", "params_counted", 1740804, SRC_CODE },
    { "params", "resnet-164", "cifar100", "params_counted", 1726388, SRC_CODE },
    { "params", "revnet-164", "cifar100", "params_counted", 1794948, SRC_CODE },
    { "params", "resnet-101", "imagenet", "params_counted", 44541480, SRC_CODE },
    { "params", "revnet-104", "imagenet", "params_counted", 45428072, SRC_CODE },
    { "params", "resnet-32", "cifar10", "params_paper", 0.46e6, SRC_PAPER },
    { "params", "revnet-38", "cifar10", "params_paper", 0.46e6, SRC_PAPER },
    { "params", "resnet-110", "cifar10", "params_paper", 1.73e6, SRC_PAPER },
    { "params", "revnet-110", "cifar10", "params_paper", 1.73e6, SRC_PAPER },
    { "params", "resnet-164", "cifar10", "params_paper", 1.70e6, SRC_PAPER },
    { "params", "revnet-164", "cifar10", "params_paper", 1.75e6, SRC_PAPER },
    { "params", "resnet-101", "imagenet", "params_paper", 44.5e6, SRC_PAPER },
    { "params", "revnet-104", "imagenet", "params_paper", 45.2e6, SRC_PAPER " (recalled)" },

    /* Top-1 test error (%), the paper's CIFAR table. */
    { "cifar", "resnet-32", "cifar10", "test_error", 7.14, SRC_CIFAR },
    { "cifar", "revnet-38", "cifar10", "test_error", 7.24, SRC_CIFAR },
    { "cifar", "resnet-110", "cifar10", "test_error", 5.74, SRC_CIFAR },
    { "cifar", "revnet-110", "cifar10", "test_error", 5.76, SRC_CIFAR },
    { "cifar", "resnet-164", "cifar10", "test_error", 5.24, SRC_CIFAR },
    { "cifar", "revnet-164", "cifar10", "test_error", 5.17, SRC_CIFAR },
    { "cifar", "resnet-32", "cifar100", "test_error", 29.95, SRC_CIFAR },
    { "cifar", "revnet-38", "cifar100", "test_error", 28.96, SRC_CIFAR },
    { "cifar", "resnet-110", "cifar100", "test_error", 26.44, SRC_CIFAR },
    { "cifar", "revnet-110", "cifar100", "test_error", 25.40, SRC_CIFAR },
    { "cifar", "resnet-164", "cifar100", "test_error", 23.37, SRC_CIFAR },
    { "cifar", "revnet-164", "cifar100", "test_error", 23.69, SRC_CIFAR },

    /* ImageNet top-1 single-crop error (%). */
    { "imagenet", "resnet-101", "imagenet", "top1_error", 23.01, SRC_IMNET },
    { "imagenet", "revnet-104", "imagenet", "top1_error", 23.10, SRC_IMNET },

    /* MemCNN: test error = 100 - reported accuracy; training time h:mm as hours. The CIFAR-10
     * and CIFAR-100 rows read alike, kept apart: one row per published number, as PAPER.md
     * lists them, so that each can be checked against its source. */
    { "memcnn", "resnet-32", "cifar10", "test_error", 100 - 92.74, SRC_MEMCNN },
    { "memcnn", "resnet-110", "cifar10", "test_error", 100 - 93.99, SRC_MEMCNN },
    { "memcnn", "resnet-164", "cifar10", "test_error", 100 - 94.57, SRC_MEMCNN },
    { "memcnn", "revnet-38", "cifar10", "test_error", 100 - 93.14, SRC_MEMCNN },
    { "memcnn", "revnet-110", "cifar10", "test_error", 100 - 94.02, SRC_MEMCNN },
    { "memcnn", "revnet-164", "cifar10", "test_error", 100 - 94.56, SRC_MEMCNN },
    { "memcnn", "resnet-32", "cifar100", "test_error", 100 - 69.10, SRC_MEMCNN },
    { "memcnn", "resnet-110", "cifar100", "test_error", 100 - 73.30, SRC_MEMCNN },
    { "memcnn", "resnet-164", "cifar100", "test_error", 100 - 76.79, SRC_MEMCNN },
    { "memcnn", "revnet-38", "cifar100", "test_error", 100 - 71.17, SRC_MEMCNN },
    { "memcnn", "revnet-110", "cifar100", "test_error", 100 - 74.00, SRC_MEMCNN },
    { "memcnn", "revnet-164", "cifar100", "test_error", 100 - 76.39, SRC_MEMCNN },
    { "memcnn", "resnet-32", "cifar10", "train_hours", 2 + 4 / 60.0, SRC_MEMCNN },
    { "memcnn", "revnet-38", "cifar10", "train_hours", 2 + 17 / 60.0, SRC_MEMCNN },
    { "memcnn", "resnet-110", "cifar10", "train_hours", 4 + 11 / 60.0, SRC_MEMCNN },
    { "memcnn", "revnet-110", "cifar10", "train_hours", 6 + 59 / 60.0, SRC_MEMCNN },
    { "memcnn", "resnet-164", "cifar10", "train_hours", 11 + 5 / 60.0, SRC_MEMCNN },
    { "memcnn", "revnet-164", "cifar10", "train_hours", 13 + 9 / 60.0, SRC_MEMCNN },
    { "memcnn", "resnet-32", "cifar10", "activation_mib", 238.6, SRC_MEMCNN_MEM },
    { "memcnn", "revnet-38", "cifar10", "activation_mib", 85.6, SRC_MEMCNN_MEM },
    { "memcnn", "resnet-110", "cifar10", "activation_mib", 810.7, SRC_MEMCNN_MEM },
    { "memcnn", "revnet-110", "cifar10", "activation_mib", 85.7, SRC_MEMCNN_MEM },
    { "memcnn", "resnet-164", "cifar10", "activation_mib", 2452.8, SRC_MEMCNN_MEM },
    { "memcnn", "revnet-164", "cifar10", "activation_mib", 432.7, SRC_MEMCNN_MEM },
};

/* The matched pairs of the paper's tables, in the paper's order. */
static const struct {
    const char *pair, *resnet, *revnet, *domain;
    int ord;
} PAIRS[] = {
    { "ResNet-32 / RevNet-38", "resnet-32", "revnet-38", "cifar", 1 },
    { "ResNet-110 / RevNet-110", "resnet-110", "revnet-110", "cifar", 2 },
    { "ResNet-164 / RevNet-164", "resnet-164", "revnet-164", "cifar", 3 },
    { "ResNet-101 / RevNet-104", "resnet-101", "revnet-104", "imagenet", 4 },
};

/* Binds texts to parameters 1..n. */
static void bind_texts(sqlite3_stmt *st, const char *const *texts, int n)
{
    for (int k = 0; k < n; k++) sqlite3_bind_text(st, k + 1, texts[k], -1, SQLITE_STATIC);
}

static void bind_paper_row(sqlite3_stmt *st, size_t i)
{
    const char *const texts[] = { ROWS[i].tbl, ROWS[i].arch, ROWS[i].dataset, ROWS[i].quantity };
    bind_texts(st, texts, 4);
    sqlite3_bind_double(st, 5, ROWS[i].value);
    sqlite3_bind_text(st, 6, ROWS[i].source, -1, SQLITE_STATIC);
}

static void bind_pair_row(sqlite3_stmt *st, size_t i)
{
    const char *const texts[] = { PAIRS[i].pair, PAIRS[i].resnet, PAIRS[i].revnet,
                                  PAIRS[i].domain };
    bind_texts(st, texts, 4);
    sqlite3_bind_int(st, 5, PAIRS[i].ord);
}

/* Runs the INSERT sql once per row, binding row i with bind. */
static int insert_rows(sqlite3 *h, const char *sql, size_t n,
                       void (*bind)(sqlite3_stmt *st, size_t i))
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        bind(st, i);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

int rb_paper_seed(struct sqlite3 *h, char *err, unsigned long err_len)
{
    if (insert_rows(h, "INSERT OR REPLACE INTO paper(tbl, arch, dataset, quantity, value, "
                    "source) VALUES (?, ?, ?, ?, ?, ?)", sizeof ROWS / sizeof ROWS[0],
                    bind_paper_row) != SQLITE_OK ||
        insert_rows(h, "INSERT OR REPLACE INTO pairs(pair, resnet, revnet, domain, ord) "
                    "VALUES (?, ?, ?, ?, ?)", sizeof PAIRS / sizeof PAIRS[0],
                    bind_pair_row) != SQLITE_OK) {
        snprintf(err, err_len, "seeding the paper's numbers: %s", sqlite3_errmsg(h));
        return -1;
    }
    return 0;
}
