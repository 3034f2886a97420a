/*
 * db_schema.c: the SQL of each schema version of the results database (db_schema.h). Version
 * 1 is never edited once released: a change is a new version with its own migration in db.c.
 *
 * Owns: nothing (string constants).
 */
#include "db/db_schema.h"

const char RB_DB_SCHEMA_V1[] =
    "CREATE TABLE runs("
    "  id INTEGER PRIMARY KEY,"
    "  config_key TEXT NOT NULL,"
    "  kind TEXT NOT NULL, arch TEXT NOT NULL, dataset TEXT NOT NULL, mode TEXT NOT NULL,"
    "  device TEXT NOT NULL, schedule TEXT NOT NULL, experiment TEXT NOT NULL,"
    "  batch INTEGER, steps INTEGER, seed INTEGER, eval_every INTEGER, train_subset INTEGER,"
    "  threads INTEGER, extra_json TEXT,"
    "  status TEXT NOT NULL CHECK (status IN ('running','finished','failed','interrupted')),"
    "  reason TEXT, started_at TEXT NOT NULL, ended_at TEXT,"
    "  hostname TEXT, cpu_model TEXT, gpu_model TEXT, blas TEXT, cudnn TEXT, backend TEXT,"
    "  git_rev TEXT, checkpoint TEXT,"
    "  final_test_error REAL, final_test_loss REAL, final_train_loss REAL,"
    "  final_train_error REAL);"
    "CREATE INDEX runs_config_key ON runs(config_key);"
    "CREATE TABLE metrics("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  step INTEGER NOT NULL, name TEXT NOT NULL, value REAL,"
    "  PRIMARY KEY (run_id, name, step)) WITHOUT ROWID;"
    "CREATE TABLE memory("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  category TEXT NOT NULL, planned_bytes INTEGER, peak_bytes INTEGER,"
    "  PRIMARY KEY (run_id, category)) WITHOUT ROWID;"
    "CREATE TABLE paper("
    "  tbl TEXT NOT NULL, arch TEXT NOT NULL, dataset TEXT NOT NULL, quantity TEXT NOT NULL,"
    "  value REAL NOT NULL, source TEXT,"
    "  PRIMARY KEY (tbl, arch, dataset, quantity));";

const char RB_DB_SCHEMA_V2[] =
    "ALTER TABLE runs ADD COLUMN pid INTEGER;"
    "ALTER TABLE runs ADD COLUMN updated_at TEXT;"
    "ALTER TABLE runs ADD COLUMN result_json TEXT;"
    "CREATE TABLE archs("
    "  name TEXT NOT NULL, dataset TEXT NOT NULL, n_params INTEGER NOT NULL,"
    "  n_layers INTEGER NOT NULL, PRIMARY KEY (name, dataset));"
    "CREATE TABLE pairs("
    "  pair TEXT PRIMARY KEY, resnet TEXT NOT NULL, revnet TEXT NOT NULL,"
    "  domain TEXT NOT NULL, ord INTEGER NOT NULL);"
    /* The newest run of every configuration: what the tables report. */
    "CREATE VIEW v_latest_runs AS"
    "  SELECT r.* FROM runs r"
    "  WHERE r.id = (SELECT max(id) FROM runs x WHERE x.config_key = r.config_key);"
    /* Mean final test error over seeds, per architecture, dataset and schedule. */
    "CREATE VIEW v_train_results AS"
    "  SELECT arch, dataset, schedule, avg(final_test_error) AS test_error,"
    "         count(*) AS n_runs, avg(julianday(ended_at) - julianday(started_at)) * 24"
    "         AS hours, device"
    "  FROM v_latest_runs WHERE kind = 'train' AND status = 'finished'"
    "    AND final_test_error IS NOT NULL"
    "  GROUP BY arch, dataset, schedule, device;"
    "CREATE VIEW v_cifar_table AS"
    "  WITH d(dataset) AS (VALUES ('cifar10'), ('cifar100')),"
    "       s(schedule, device) AS (SELECT DISTINCT schedule, device FROM v_train_results)"
    "  SELECT p.pair, d.dataset, s.schedule, s.device,"
    "         pr.value AS paper_resnet, o1.test_error AS ours_resnet,"
    "         o1.test_error - pr.value AS diff_resnet,"
    "         pv.value AS paper_revnet, o2.test_error AS ours_revnet,"
    "         o2.test_error - pv.value AS diff_revnet"
    "  FROM pairs p CROSS JOIN d LEFT JOIN s"
    "  LEFT JOIN paper pr ON pr.tbl = 'cifar' AND pr.arch = p.resnet"
    "       AND pr.dataset = d.dataset AND pr.quantity = 'test_error'"
    "  LEFT JOIN paper pv ON pv.tbl = 'cifar' AND pv.arch = p.revnet"
    "       AND pv.dataset = d.dataset AND pv.quantity = 'test_error'"
    "  LEFT JOIN v_train_results o1 ON o1.arch = p.resnet AND o1.dataset = d.dataset"
    "       AND o1.schedule = s.schedule AND o1.device = s.device"
    "  LEFT JOIN v_train_results o2 ON o2.arch = p.revnet AND o2.dataset = d.dataset"
    "       AND o2.schedule = s.schedule AND o2.device = s.device"
    "  WHERE p.domain = 'cifar' ORDER BY p.ord, d.dataset, s.schedule;"
    "CREATE VIEW v_params AS"
    "  SELECT a.name AS arch, a.dataset, pc.value AS paper_counted,"
    "         pp.value AS paper_rounded, a.n_params AS ours,"
    "         a.n_params - pc.value AS diff_counted, a.n_layers"
    "  FROM archs a"
    "  LEFT JOIN paper pc ON pc.tbl = 'params' AND pc.arch = a.name"
    "       AND pc.dataset = a.dataset AND pc.quantity = 'params_counted'"
    "  LEFT JOIN paper pp ON pp.tbl = 'params' AND pp.arch = a.name"
    "       AND pp.dataset = a.dataset AND pp.quantity = 'params_paper';"
    "CREATE VIEW v_memory AS"
    "  SELECT r.id AS run_id, r.arch, r.mode, r.device, r.batch, r.experiment,"
    "         (SELECT n_layers FROM archs a WHERE a.name = r.arch LIMIT 1) AS n_layers,"
    "         m.peak_bytes / 1048576.0 AS activation_peak_mib,"
    "         m.planned_bytes / 1048576.0 AS activation_planned_mib,"
    "         t.peak_bytes / 1048576.0 AS total_peak_mib,"
    "         x.peak_bytes / 1048576.0 AS max_rss_mib,"
    "         (SELECT value FROM metrics k WHERE k.run_id = r.id AND k.name = 'ms_per_step'"
    "          ORDER BY step DESC LIMIT 1) AS ms_per_step"
    "  FROM v_latest_runs r"
    "  LEFT JOIN memory m ON m.run_id = r.id AND m.category = 'activation_peak'"
    "  LEFT JOIN memory t ON t.run_id = r.id AND t.category = 'total_peak'"
    "  LEFT JOIN memory x ON x.run_id = r.id AND x.category = 'max_rss'"
    "  WHERE r.kind = 'mem' AND r.status = 'finished';"
    "CREATE VIEW v_training_curves AS"
    "  SELECT r.id AS run_id, r.arch, r.dataset, r.mode, r.device, r.schedule, r.seed,"
    "         k.step, k.name, k.value"
    "  FROM v_latest_runs r JOIN metrics k ON k.run_id = r.id"
    "  WHERE r.kind = 'train';";

/* Where and under what load a run was measured: the CPU's vector ISA and online CPU count,
 * the 1-minute load average when it started and ended (timings on a loaded machine are noise),
 * and the versions of revbench, SQLite and the compiler. git_rev gains "-dirty" from this
 * version on (machine.c). */
const char RB_DB_SCHEMA_V3[] =
    "ALTER TABLE runs ADD COLUMN isa TEXT;"
    "ALTER TABLE runs ADD COLUMN n_cpus INTEGER;"
    "ALTER TABLE runs ADD COLUMN load_start REAL;"
    "ALTER TABLE runs ADD COLUMN load_end REAL;"
    "ALTER TABLE runs ADD COLUMN software TEXT;";

/* A random identity given to each database when it is made (or upgraded to this version):
 * checkpoints and run locks live under it, so two databases in one folder (or a database
 * deleted and made again beside the old checkpoints/) never take each other's files.
 * randomblob draws from the VFS's randomness (/dev/urandom on Linux). */
const char RB_DB_SCHEMA_V4[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES ('db_id', lower(hex(randomblob(16))));";
