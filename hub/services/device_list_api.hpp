// The device list at fleet size: GET /api/devices with query parameters returns
// one page of the devices that match, plus how many match in all, so that the UI
// never loads 10 000 devices to show 50. Role: viewer (a read).
//
//   GET /api/devices?offset=0&limit=50&q=sim-01&online=true&alerts=true&version=1.2
//     -> 200 {"total":N,"offset":0,"limit":50,"devices":[device, ...],"versions":[...]}
//
//   offset   0.. (default 0)            limit    1..500 (default 50)
//   q        case-insensitive substring of the id or the version (at most 128 bytes)
//   online   true | false               alerts   true (open alerts) | false (none)
//   version  exact software version
//
// Sorted by id. `versions` lists the distinct versions of the whole fleet (at most
// 100), for a filter menu. Without any query parameter the route keeps its old
// answer, the bare array (http_api.hpp). Filtering runs in memory over the store's
// list (the online state and the open alerts live elsewhere than the registry):
// a few milliseconds for 10 000 devices.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "hub/http_types.hpp"
#include "hub/services/protocol_service.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

struct DeviceListQuery {
  static constexpr std::size_t kDefaultLimit = 50;
  static constexpr std::size_t kMaxLimit = 500;
  static constexpr std::size_t kMaxSearch = 128;

  std::size_t offset = 0;
  std::size_t limit = kDefaultLimit;
  std::string q;
  std::optional<bool> online;
  std::optional<bool> alerts;
  std::optional<std::string> version;
};

// Whether the request asks for the paged form (any of the parameters above).
bool wants_device_page(const std::map<std::string, std::string>& query);

// Reads the parameters; an error names the parameter and what it accepts.
Result<DeviceListQuery> parse_device_list_query(const std::map<std::string, std::string>& query);

// One device as the API shows it (the same object in the list, the page and
// GET /api/devices/{id}).
std::string device_json(const DeviceRecord& device, const DeviceSide& devices,
                        const OperatorSide& operators);

// GET /api/devices in the paged form; nullopt for any other request.
std::optional<HttpResponse> device_list_route(const ServiceContext& context,
                                              const HttpRequest& request);

}  // namespace tether::hub
