// The two rewrites that let one SQL text serve both engines: parameter markers
// for SQLite, and the portable schema type words for each engine. Both leave
// string literals, quoted identifiers and comments alone.
#pragma once

#include <string>
#include <string_view>

#include "hub/store/sql/database.hpp"

namespace tether::hub::sql {

// `$N` → `?N`: SQLite reads `$1` as a named parameter, which would not bind by
// position; `?N` is its numbered form.
std::string numbered_params_for_sqlite(std::string_view sql);

// Maps the upper-case whole words INTEGER, REAL, BLOB and AUTO_ID to the engine's
// types (see database.hpp); case-sensitive so that a column called `real` or
// `blob` keeps its name.
std::string schema_for(Dialect dialect, std::string_view sql);

}  // namespace tether::hub::sql
