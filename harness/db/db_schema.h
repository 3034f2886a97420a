/*
 * db_schema.h: the SQL that creates each version of the results database's schema.
 *   RB_DB_SCHEMA_V1  runs, metrics, memory, paper
 *   RB_DB_SCHEMA_V2  (from version 1) runs.pid/updated_at/result_json, archs, pairs, views
 *   RB_DB_SCHEMA_V3  (from version 2) runs.isa/n_cpus/load_start/load_end/software
 *   RB_DB_SCHEMA_V4  (from version 3) meta: the database's random identity (meta.db_id)
 */
#ifndef RB_DB_SCHEMA_H
#define RB_DB_SCHEMA_H

extern const char RB_DB_SCHEMA_V1[];
extern const char RB_DB_SCHEMA_V2[];
extern const char RB_DB_SCHEMA_V3[];
extern const char RB_DB_SCHEMA_V4[];

#endif
