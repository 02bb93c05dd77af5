// The store's schema and how an opened database is brought to it: connection
// settings (WAL, synchronous, locking), the integrity check, and the migrations
// from each older `PRAGMA user_version` to the current one.
#pragma once

#include "daemon/store/sqlite_connection.hpp"
#include "protocol/result.hpp"

namespace tether::daemon::store {

// The version this build writes. A database with a higher user_version was written
// by a newer tetherd and is refused (kStorageFailure), never downgraded.
inline constexpr int kSchemaVersion = 1;

// Configures the connection, checks the database and migrates it, in one write
// transaction (which also proves the file and its directory are writable).
Status prepare_schema(SqliteConnection& connection);

}  // namespace tether::daemon::store
