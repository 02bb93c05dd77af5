// The two connections a hub store with a writer thread keeps on its database:
// `reader` for the loop thread (reads and rare synchronous writes), `writer` for
// the store's BatchWriter thread. Opening brings the store's schema up to date
// (sql::migrate on the writer) before the reader connects, so both see it.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "hub/store/sql/database.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

struct StoreConnections {
  std::unique_ptr<sql::Connection> reader;
  std::unique_ptr<sql::Connection> writer;
};

// `store` names the store in schema_migrations ("devices", "monitoring", ...).
// Errors say which store failed to open, with url.redacted (never a password).
Result<StoreConnections> open_store_connections(const sql::StoreUrl& url, std::string_view store,
                                                const sql::ConnectOptions& options,
                                                const std::vector<sql::Migration>& migrations);

}  // namespace tether::hub
