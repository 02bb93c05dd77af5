#include "hub/sim/sim_options.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <exception>
#include <sstream>

namespace tether::sim {

namespace po = boost::program_options;

namespace {

// Seconds (fractions allowed) in [min, max] as milliseconds.
Status copy_ms(const po::variables_map& vm, const char* key, std::chrono::milliseconds& out,
               double min, double max) {
  if (!vm.count(key)) return Status::Ok();
  const double v = vm[key].as<double>();
  if (!(v >= min && v <= max)) {
    return Error(ErrorCode::kInvalidArgument, std::string("option '--") + key +
                                                  "': " + std::to_string(v) + " is out of range [" +
                                                  std::to_string(min) + ", " + std::to_string(max) +
                                                  "] seconds");
  }
  out = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(v * 1000)));
  return Status::Ok();
}

template <typename T>
Status copy_count(const po::variables_map& vm, const char* key, T& out, long long min,
                  long long max) {
  if (!vm.count(key)) return Status::Ok();
  const long long v = vm[key].as<long long>();
  if (v < min || v > max) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string("option '--") + key + "': " + std::to_string(v) +
                     " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = static_cast<T>(v);
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::string>> parse_source_addresses(const std::string& range) {
  const auto dash = range.find('-');
  const std::string first_text = range.substr(0, dash);
  const std::string last_text = dash == std::string::npos ? first_text : range.substr(dash + 1);
  in_addr first{};
  in_addr last{};
  if (inet_pton(AF_INET, first_text.c_str(), &first) != 1 ||
      inet_pton(AF_INET, last_text.c_str(), &last) != 1) {
    return Error(ErrorCode::kInvalidArgument,
                 "option '--source-addresses': '" + range +
                     "' is not an IPv4 address or a range FIRST-LAST of them");
  }
  const std::uint32_t from = ntohl(first.s_addr);
  const std::uint32_t to = ntohl(last.s_addr);
  if (to < from || to - from >= kMaxSourceAddresses) {
    return Error(ErrorCode::kInvalidArgument,
                 "option '--source-addresses': '" + range + "' must go up, by at most " +
                     std::to_string(kMaxSourceAddresses) + " addresses");
  }
  std::vector<std::string> out;
  out.reserve(to - from + 1);
  for (std::uint64_t a = from; a <= to; ++a) {
    in_addr addr{};
    addr.s_addr = htonl(static_cast<std::uint32_t>(a));
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &addr, text, sizeof text);
    out.emplace_back(text);
  }
  return out;
}

Result<SimInvocation> parse_sim_options(int argc, const char* const argv[]) {
  po::options_description desc("Options (durations in seconds, fractions allowed)");
  desc.add_options()("help", "show this help")(
      "url", po::value<std::string>(),
      "the backend, wss://HOST:PORT[/path] (required; the daemon's default path when none)")(
      "ca-file", po::value<std::string>(), "PEM CA the server certificate must chain to")(
      "tokens", po::value<std::string>(),
      "file of 'ID TOKEN' lines, as tether-hub --add-devices --tokens-out writes (required)")(
      "devices", po::value<long long>(), "how many devices to simulate (default: all of --tokens)")(
      "rate", po::value<double>(), "monitoring records per second per device (default 0)")(
      "records", po::value<long long>(), "records each device makes, then stops (default: no end)")(
      "start-paused", "make no records until SIGUSR1 (which toggles pause and resume)")(
      "exit-when-acked",
      "exit 0 once every device has made --records and the backend acked them all")(
      "duration", po::value<double>(),
      "exit after this long (default: run until SIGINT/SIGTERM); with --exit-when-acked, "
      "reaching it first is a failure (exit 1)")(
      "window", po::value<long long>(),
      "unacknowledged records in flight per device (default 256)")(
      "max-unacked", po::value<long long>(),
      "records kept per device until acked; beyond, new ones are skipped (default 100000)")(
      "sw-version", po::value<std::string>(), "software version in the status (default sim-1)")(
      "ping-interval", po::value<double>(), "keepalive ping after this much silence (default 30)")(
      "pong-timeout", po::value<double>(), "dead link after this without a frame (default 15)")(
      "backoff-base", po::value<double>(), "first reconnect ceiling (default 1)")(
      "backoff-max", po::value<double>(), "largest reconnect wait, jitter included (default 300)")(
      "auth-backoff", po::value<double>(), "wait after a 401/403 (default 60)")(
      "stable-after", po::value<double>(), "a link up this long resets the backoff (default 30)")(
      "connect-timeout", po::value<double>(), "give a dial up after this (default 20)")(
      "ramp", po::value<double>(), "spread the first dials over this (default 0: all at once)")(
      "stats", po::value<std::string>(),
      "append a CSV line per --stats-interval: elapsed_s,online,connects,disconnects,"
      "records_made,records_sent,records_acked")("stats-interval", po::value<double>(),
                                                 "default 1")(
      "summary", po::value<std::string>(), "write a JSON summary (totals and per device) at exit")(
      "source-addresses", po::value<std::string>(),
      "dial from these local IPv4 addresses in turn, FIRST[-LAST] (e.g. "
      "127.0.0.2-127.0.0.65: a source-hashing balancer spreads the fleet)")(
      "seed", po::value<long long>(), "seed of the backoff jitter and boot ids (default: random)")(
      "quiet", "no progress lines on stderr");

  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInvalidArgument, e.what());
  }

  SimInvocation inv;
  if (vm.count("help")) {
    std::ostringstream os;
    os << "tether-sim: many simulated tether devices on one event loop, for load-testing a "
          "backend\n\n"
       << "  tether-sim --url wss://HUB:8443 --ca-file CA.pem --tokens TOKENS [options]\n\n"
       << desc;
    inv.help = true;
    inv.help_text = os.str();
    return inv;
  }
  SimOptions& o = inv.options;
  if (!vm.count("url")) return Error(ErrorCode::kInvalidArgument, "option '--url' is required");
  auto url = daemon::transport::parse_server_url(vm["url"].as<std::string>());
  if (!url.ok()) return url.error().wrap("option '--url'");
  o.url = *url;
  if (o.url.path.empty() || o.url.path == "/") o.url.path = "/api/devices/v1/deviceconnect/connect";
  if (!vm.count("tokens")) {
    return Error(ErrorCode::kInvalidArgument, "option '--tokens' is required");
  }
  o.tokens_file = vm["tokens"].as<std::string>();
  if (vm.count("ca-file")) o.ca_file = vm["ca-file"].as<std::string>();
  if (vm.count("sw-version")) o.behaviour.version = vm["sw-version"].as<std::string>();
  if (o.behaviour.version.empty() || o.behaviour.version.size() > 64) {
    return Error(ErrorCode::kInvalidArgument, "option '--sw-version': 1 to 64 characters");
  }
  o.exit_when_acked = vm.count("exit-when-acked") > 0;
  o.quiet = vm.count("quiet") > 0;
  o.start_paused = vm.count("start-paused") > 0;
  if (vm.count("stats")) o.stats_file = vm["stats"].as<std::string>();
  if (vm.count("source-addresses")) {
    auto pool = parse_source_addresses(vm["source-addresses"].as<std::string>());
    if (!pool.ok()) return pool.error();
    o.source_addresses = std::move(*pool);
  }
  if (vm.count("summary")) o.summary_file = vm["summary"].as<std::string>();
  if (vm.count("rate")) {
    o.records_per_second = vm["rate"].as<double>();
    if (!(o.records_per_second >= 0 && o.records_per_second <= 100000)) {
      return Error(ErrorCode::kInvalidArgument,
                   "option '--rate': records per second must be in [0, 100000]");
    }
  }
  if (vm.count("duration")) {
    o.duration_s = vm["duration"].as<double>();
    if (!(o.duration_s >= 0 && o.duration_s <= 30 * 86400.0)) {
      return Error(ErrorCode::kInvalidArgument, "option '--duration': seconds in [0, 2592000]");
    }
  }
  for (const Status& s : {
           copy_count(vm, "devices", o.devices, 1, 1'000'000),
           copy_count(vm, "records", o.records_per_device, 1, 1'000'000'000'000LL),
           copy_count(vm, "window", o.behaviour.window, 1, 65536),
           copy_count(vm, "max-unacked", o.behaviour.max_unacked, 1, 100'000'000),
           copy_count(vm, "seed", o.seed, 1, std::numeric_limits<long long>::max()),
           copy_ms(vm, "ping-interval", o.ping_interval, 1, 3600),
           copy_ms(vm, "pong-timeout", o.pong_timeout, 1, 3600),
           copy_ms(vm, "backoff-base", o.backoff_base, 0.001, 86400),
           copy_ms(vm, "backoff-max", o.backoff_max, 0.001, 86400),
           copy_ms(vm, "auth-backoff", o.auth_backoff, 0.001, 86400),
           copy_ms(vm, "stable-after", o.stable_after, 0, 86400),
           copy_ms(vm, "connect-timeout", o.connect_timeout, 1, 3600),
           copy_ms(vm, "ramp", o.ramp, 0, 86400),
           copy_ms(vm, "stats-interval", o.stats_interval, 0.01, 3600),
       }) {
    if (!s.ok()) return s.error();
  }
  if (o.exit_when_acked && o.records_per_device == 0) {
    return Error(ErrorCode::kInvalidArgument, "option '--exit-when-acked' needs --records");
  }
  if (o.exit_when_acked && o.records_per_second <= 0) {
    return Error(ErrorCode::kInvalidArgument, "option '--exit-when-acked' needs a --rate above 0");
  }
  return inv;
}

}  // namespace tether::sim
