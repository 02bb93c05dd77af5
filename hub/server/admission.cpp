#include "hub/server/admission.hpp"

#include <string_view>

#include "hub/auth.hpp"

namespace tether::hub {

namespace {

constexpr std::string_view kDevicePath = "/api/devices/v1/deviceconnect/connect";
constexpr std::string_view kOperatorPrefix = "/api/management/v1/deviceconnect/devices/";
constexpr std::string_view kOperatorSuffix = "/connect";

Admission refused(PeerKind kind, unsigned status) {
  Admission a;
  a.kind = kind;
  a.status = status;
  return a;
}

}  // namespace

Admission AdmissionControl::admit(const UpgradeRequest& request) {
  if (!request.uri) return refused(PeerKind::kDevice, 404);
  const std::string& uri = *request.uri;
  if (uri == kDevicePath) return admit_device(request);
  if (uri.size() > kOperatorPrefix.size() + kOperatorSuffix.size() &&
      uri.compare(0, kOperatorPrefix.size(), kOperatorPrefix) == 0 &&
      uri.compare(uri.size() - kOperatorSuffix.size(), kOperatorSuffix.size(), kOperatorSuffix) ==
          0) {
    return admit_operator(request);
  }
  return refused(PeerKind::kDevice, 404);
}

Admission AdmissionControl::admit_device(const UpgradeRequest& request) {
  constexpr std::string_view kBearer = "Bearer ";
  const auto& auth = request.authorization;
  if (!auth || auth->size() <= kBearer.size() || auth->compare(0, kBearer.size(), kBearer) != 0) {
    return refused(PeerKind::kDevice, 401);
  }
  std::string_view token = std::string_view(*auth).substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return refused(PeerKind::kDevice, 401);
  auto id = store_.device_for_token(sha256_hex(token));
  if (!id.ok()) {
    log_.error(id.error().wrap("authenticating a device").message());
    return refused(PeerKind::kDevice, 500);
  }
  if (!id->has_value()) return refused(PeerKind::kDevice, 401);
  Admission a;
  a.kind = PeerKind::kDevice;
  a.device_id = **id;
  return a;
}

Admission AdmissionControl::admit_operator(const UpgradeRequest& request) {
  auto caller = api_.caller_for(request.session_cookie, request.authorization);
  if (!caller) return refused(PeerKind::kOperator, 401);
  // Cross-site WebSocket hijacking: a browser always sends Origin; it must be us.
  if (request.origin && (!request.host || *request.origin != "https://" + *request.host)) {
    return refused(PeerKind::kOperator, 403);
  }
  const std::string& uri = *request.uri;
  Admission a;
  a.kind = PeerKind::kOperator;
  a.user = caller->user;
  a.role = caller->role;
  a.device_id = uri.substr(kOperatorPrefix.size(),
                           uri.size() - kOperatorPrefix.size() - kOperatorSuffix.size());
  if (!valid_device_id(a.device_id)) return refused(PeerKind::kOperator, 404);
  auto record = store_.get(a.device_id);
  if (!record.ok()) {
    log_.error(record.error().wrap("looking up device " + a.device_id).message());
    return refused(PeerKind::kOperator, 500);
  }
  if (!record->has_value()) return refused(PeerKind::kOperator, 404);
  switch (operators_.check_attach(a.device_id)) {
    case AttachCheck::kOk:
      break;
    case AttachCheck::kOffline:
      a.status = 409;
      break;
    case AttachCheck::kTooManyOperators:
      a.status = 429;
      break;
  }
  return a;
}

}  // namespace tether::hub
