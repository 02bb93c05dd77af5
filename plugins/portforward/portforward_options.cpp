#include "plugins/portforward/portforward_options.hpp"

#include "plugins/portforward/allow_list.hpp"

namespace tether::plugins::portforward {

daemon::OptionSection option_section() {
  return {
      "portforward",
      {
          {"enabled", "true", "serve port forwarding (protocol 3)"},
          {"allow", "127.0.0.1:*, [::1]:*, localhost:*",
           "comma-separated host:port patterns a connection may dial (* any port, CIDR hosts)"},
          {"max-connections", "32", "open forwarded connections in total"},
          {"idle-timeout", "600", "seconds without local data before a connection is stopped"},
          {"connect-timeout", "10", "seconds a dial may take"},
      },
      [](daemon::OptionReader& reader) { (void)read_options(reader); },
  };
}

PortForwardOptions read_options(daemon::OptionReader& reader) {
  PortForwardOptions o;
  reader.boolean("enabled", o.enabled);
  if (auto text = reader.text("allow")) {
    if (auto list = AllowList::parse(*text); !list) {
      reader.problem("allow", list.error().message());
    } else {
      o.allow = *text;
    }
  }
  reader.count("max-connections", o.max_connections, 1);
  reader.seconds("idle-timeout", o.idle_timeout, true);
  reader.seconds("connect-timeout", o.connect_timeout, true);
  return o;
}

}  // namespace tether::plugins::portforward
