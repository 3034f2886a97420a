/*
 * db_schema.h: the SQL that creates each version of the results database's schema.
 *   RV_DB_SCHEMA_V1  runs, metrics, memory, paper
 *   RV_DB_SCHEMA_V2  (from version 1) runs.pid/updated_at/result_json, archs, pairs, views
 */
#ifndef RV_DB_SCHEMA_H
#define RV_DB_SCHEMA_H

extern const char RV_DB_SCHEMA_V1[];
extern const char RV_DB_SCHEMA_V2[];

#endif
