/*
 * cli.h: kept only for the tests that include it for the exit statuses (tests/test_cli.c,
 * test_train.c, test_train_faults.c, train_fixture.c). The harness includes common/ headers
 * directly; this file goes once those tests include common/exit_status.h.
 */
#ifndef RB_CLI_H
#define RB_CLI_H

#include "common/exit_status.h"

#endif
