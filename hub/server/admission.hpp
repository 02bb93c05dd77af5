// Who may upgrade to a WebSocket, decided from the request's headers alone (the
// lws glue copies them out; nothing here sees lws):
//
//   /api/devices/v1/deviceconnect/connect                   a device: "Bearer <token>"
//   /api/management/v1/deviceconnect/devices/{id}/connect   an operator: session cookie
//                                                           (or API token), same-origin,
//                                                           device online; the socket
//                                                           keeps the caller's role
//
// The answer is the HTTP status to refuse with (401, 403, 404, 409, 429, 500) or
// admission with the device id (and the operator's name).
#pragma once

#include <optional>
#include <string>

#include "hub/config.hpp"
#include "hub/http_api.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/store/store.hpp"

namespace tether::hub {

enum class PeerKind { kDevice, kOperator };

// The headers admission looks at; nullopt when absent or over the glue's bound.
struct UpgradeRequest {
  std::optional<std::string> uri;
  std::optional<std::string> authorization;
  std::optional<std::string> session_cookie;
  std::optional<std::string> origin;
  std::optional<std::string> host;
};

struct Admission {
  unsigned status = 0;  // 0 = admitted, else the HTTP status to refuse with
  PeerKind kind = PeerKind::kDevice;
  std::string device_id;
  std::string user;
  Role role = Role::kViewer;  // an operator's, at the upgrade
};

class AdmissionControl {
 public:
  AdmissionControl(Store& store, HttpApi& api, const OperatorSide& operators, const Logger& log)
      : store_(store), api_(api), operators_(operators), log_(log) {}

  Admission admit(const UpgradeRequest& request);

 private:
  Admission admit_device(const UpgradeRequest& request);
  Admission admit_operator(const UpgradeRequest& request);

  Store& store_;
  HttpApi& api_;
  const OperatorSide& operators_;
  const Logger& log_;
};

}  // namespace tether::hub
