// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: the PostgreSQL schema, as numbered migrations.
#ifndef CIDROT_STORAGE_POSTGRES_PG_SCHEMA_H_
#define CIDROT_STORAGE_POSTGRES_PG_SCHEMA_H_

#include <string>
#include <vector>

namespace cidrot::storage::pg {

struct Migration {
  int version;
  std::string sql;  // statements to run inside the migration transaction
};

// The schema version this build writes and reads; a database at a higher version is refused.
constexpr int kSchemaVersion = 1;

// Every migration, oldest first, with `@S@` replaced by the quoted schema name.
std::vector<Migration> migrations(const std::string& quoted_schema);

// Replaces every "@S@" in `sql` with `quoted_schema`.
std::string with_schema(std::string sql, const std::string& quoted_schema);

}  // namespace cidrot::storage::pg

#endif  // CIDROT_STORAGE_POSTGRES_PG_SCHEMA_H_
