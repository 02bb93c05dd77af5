#include "protocol/portforward.hpp"

#include <limits>

#include "protocol/fields.hpp"
#include "protocol/writer.hpp"

namespace tether::protocol::portforward {

Bytes NewConnection::encode() const {
  Writer w;
  w.map_header(3);
  w.str("remote_host");
  w.str(remote_host);
  w.str("remote_port");
  w.uint64(remote_port);
  w.str("protocol");
  w.str(protocol);
  return w.take();
}

Result<NewConnection> NewConnection::decode(std::span<const std::uint8_t> body,
                                            const DecodeLimits& limits) {
  return decode_schema<NewConnection>(
      body, limits, "invalid port-forward message", [](FieldReader& fields) {
        NewConnection c;
        c.remote_host = fields.str("remote_host");
        const std::uint64_t port = fields.uint("remote_port");
        if (port > std::numeric_limits<std::uint16_t>::max())
          fields.fail("remote_port", std::to_string(port) + " is larger than 65535");
        c.remote_port = static_cast<std::uint16_t>(port);
        c.protocol = fields.str("protocol");
        return c;
      });
}

Bytes ForwardError::encode() const {
  Writer w;
  w.map_header(2);
  w.str("err");
  w.str(err);
  w.str("msgtype");
  w.str(msgtype);
  return w.take();
}

}  // namespace tether::protocol::portforward
