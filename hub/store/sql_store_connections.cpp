#include "hub/store/sql_store_connections.hpp"

#include <string>
#include <utility>

namespace tether::hub {

Result<StoreConnections> open_store_connections(const sql::StoreUrl& url, std::string_view store,
                                                const sql::ConnectOptions& options,
                                                const std::vector<sql::Migration>& migrations) {
  const std::string what = "opening the " + std::string(store) + " store at " + url.redacted;
  auto writer = sql::connect(url, options);
  if (!writer.ok()) return writer.error().wrap(what);
  if (auto s = sql::migrate(**writer, store, migrations); !s.ok()) return s.error().wrap(what);
  auto reader = sql::connect(url, options);
  if (!reader.ok()) return reader.error().wrap(what);
  return StoreConnections{std::move(*reader), std::move(*writer)};
}

}  // namespace tether::hub
