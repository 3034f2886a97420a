/*
 * fault_vfs.h: an SQLite VFS for tests that passes every call on to the default (unix) VFS,
 * counts writes and syncs, and fails the Nth of them on request: once (a transient I/O error)
 * or from then on (a full disk). Registered as the default VFS, so code under test that opens
 * its database the ordinary way (rb_db_open) goes through it unchanged.
 *
 * SQLite's own hook, sqlite3_test_control(SQLITE_TESTCTRL_FAULT_INSTALL), reaches only a few
 * internal sites (sorter allocations, worker threads, page checks), never a write or an fsync,
 * and the fault-injecting VFS layers of SQLite's test suite are not in Debian's library: a shim
 * is how a chosen write or fsync fails.
 */
#ifndef RV_TEST_FAULT_VFS_H
#define RV_TEST_FAULT_VFS_H

typedef enum {
    FAULT_NONE,
    FAULT_WRITE_ONCE,     /* the Nth write returns SQLITE_IOERR_WRITE; later ones work */
    FAULT_SYNC_ONCE,      /* the Nth sync returns SQLITE_IOERR_FSYNC; later ones work */
    FAULT_FULL_FROM       /* the Nth write and every later one return SQLITE_FULL */
} fault_kind;

/* Registers the shim as the default VFS (idempotent); counting starts at zero, no fault. */
void fault_vfs_install(void);
/* Makes the default VFS the unix one again. */
void fault_vfs_remove(void);
/* Resets the counters and arms a fault at the nth write or sync (1-based; kind FAULT_NONE
 * only counts). */
void fault_vfs_arm(fault_kind kind, long n);
/* Writes and syncs passed on (or failed) since the last fault_vfs_arm, and faults injected. */
long fault_vfs_writes(void);
long fault_vfs_syncs(void);
long fault_vfs_injected(void);

#endif
