// tetherctl serve TARGET -- COMMAND [ARG...]: turns any program into the handler of
// a Commands1 target (spec/dbus.md). For each request, in arrival order and one at a
// time, COMMAND runs with TETHER_ACTION and TETHER_REQUEST_ID in its environment and
// the args as a JSON object on stdin. Exit 0: ok, stdout's JSON object is `ret`
// (empty stdout: no ret). Otherwise: error, stderr's last line is `err`. When the
// daemon says the request ended (the Ended signal: its timeout passed), COMMAND and
// its process group are killed and nothing is replied.
//
// Threads: sdbus-c++'s event loop thread receives the signals and queues them; the
// main thread runs the commands and replies. They meet in a mutex-guarded queue and
// an eventfd, which the main thread polls together with the child's pipes, its
// pidfd and a signalfd for SIGTERM/SIGINT.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "dbus/interfaces/names.hpp"
#include "dbus/tetherctl/command.hpp"
#include "dbus/variant_msgpack.hpp"

extern char** environ;  // NOLINT: the process environment, for the child's

namespace tether::tetherctl {
namespace {

constexpr const char* kInterface = "io.tether.Commands1";
// stdout larger than this is refused (the ret travels as one message); of stderr,
// only the tail is kept (its last line is the err).
constexpr std::size_t kMaxStdout = std::size_t{1} << 20U;
constexpr std::size_t kStderrTail = 4096;
// Ended notices remembered for requests not run yet.
constexpr std::size_t kMaxEndedIds = 1024;

using protocol::Value;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

nlohmann::json to_json(const Value& value) {
  if (value.is_nil()) return nullptr;
  if (auto b = value.as_bool()) return *b;
  if (value.is_int()) {
    if (auto i = value.as_int()) return *i;
    return *value.as_uint();
  }
  if (auto d = value.as_float()) return *d;
  if (const std::string* s = value.as_str()) return *s;
  if (const protocol::Bytes* bin = value.as_bin()) return nlohmann::json(*bin);
  if (const protocol::Array* array = value.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const Value& item : *array) out.push_back(to_json(item));
    return out;
  }
  nlohmann::json out = nlohmann::json::object();
  if (const protocol::Map* map = value.as_map()) {
    for (const auto& [key, item] : *map) out[key] = to_json(item);
  }
  return out;
}

Value from_json(const nlohmann::json& json) {
  switch (json.type()) {
    case nlohmann::json::value_t::boolean:
      return Value(json.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value(json.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return Value(json.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float:
      return Value(json.get<double>());
    case nlohmann::json::value_t::string:
      return Value(json.get<std::string>());
    case nlohmann::json::value_t::array: {
      protocol::Array out;
      for (const auto& item : json) out.push_back(from_json(item));
      return Value(std::move(out));
    }
    case nlohmann::json::value_t::object: {
      protocol::Map out;
      for (const auto& [key, item] : json.items()) out.emplace_back(key, from_json(item));
      return Value(std::move(out));
    }
    default:
      return Value();
  }
}

struct Job {
  std::string id;
  std::string action;
  std::map<std::string, sdbus::Variant> args;
};

// What the signal thread hands to the main thread.
class Inbox {
 public:
  Inbox() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  int fd() const { return wake_.get(); }

  void push(Job job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake();
  }
  void ended(const std::string& id) {
    {
      std::lock_guard lock(mutex_);
      if (ended_.size() >= kMaxEndedIds) ended_.erase(ended_.begin());
      ended_.insert(id);
    }
    wake();
  }
  std::optional<Job> pop() {
    std::lock_guard lock(mutex_);
    while (!jobs_.empty()) {
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      if (ended_.erase(job.id) == 0) return job;  // an ended request is not run at all
    }
    return std::nullopt;
  }
  bool has_ended(const std::string& id) {
    std::lock_guard lock(mutex_);
    return ended_.erase(id) > 0;
  }
  void drain() const {
    std::uint64_t count = 0;
    while (::read(wake_.get(), &count, sizeof count) > 0) {
    }
  }

 private:
  void wake() const {
    std::uint64_t one = 1;
    (void)::write(wake_.get(), &one, sizeof one);
  }

  Fd wake_;
  std::mutex mutex_;
  std::deque<Job> jobs_;
  std::set<std::string> ended_;
};

struct Outcome {
  bool ok = false;
  protocol::Map ret;
  std::string err;
  bool cancelled = false;  // ended by the daemon or by a signal to tetherctl: no reply
  bool stop = false;       // tetherctl itself was asked to stop
};

std::string last_line(const std::string& text) {
  std::size_t end = text.find_last_not_of("\r\n \t");
  if (end == std::string::npos) return {};
  std::size_t start = text.find_last_of('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return text.substr(start, end - start + 1);
}

class Server {
 public:
  Server(Invocation& call, std::string target, std::vector<std::string> command)
      : call_(call), target_(std::move(target)), command_(std::move(command)) {}

  int run() {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    // Blocked before sdbus-c++'s thread starts, so that only the signalfd sees them.
    ::pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask_);
    signals_ = Fd(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));

    proxy_ = sdbus::createProxy(call_.bus, tether::dbus::kBusName, tether::dbus::kObjectPath);
    proxy_->uponSignal("Request")
        .onInterface(kInterface)
        .call([this](const std::string& id, const std::string& target, const std::string& action,
                     const std::map<std::string, sdbus::Variant>& args) {
          if (target == target_) inbox_.push(Job{id, action, args});
        });
    proxy_->uponSignal("Ended")
        .onInterface(kInterface)
        .call([this](const std::string& id, const std::string& /*status*/) { inbox_.ended(id); });
    proxy_->finishRegistration();
    call_.bus.enterEventLoopAsync();
    proxy_->callMethod("Register").onInterface(kInterface).withArguments(target_);
    call_.err << "tetherctl: serving target '" << target_ << "'\n";

    while (true) {
      while (std::optional<Job> job = inbox_.pop()) {
        Outcome outcome = execute(*job);
        if (outcome.stop) return finish();
        if (!outcome.cancelled) reply(*job, outcome);
      }
      pollfd fds[2] = {{inbox_.fd(), POLLIN, 0}, {signals_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
      if ((fds[1].revents & POLLIN) != 0) return finish();
      inbox_.drain();
    }
    return finish();
  }

 private:
  int finish() {
    try {
      proxy_->callMethod("Unregister").onInterface(kInterface).withArguments(target_);
    } catch (const sdbus::Error&) {
      // Gone already (the daemon restarted); leaving the bus drops it anyway.
    }
    call_.bus.leaveEventLoop();
    return kExitOk;
  }

  void reply(const Job& job, const Outcome& outcome) {
    try {
      proxy_->callMethod("Reply")
          .onInterface(kInterface)
          .withArguments(job.id, outcome.ok, tether::dbus::map_to_variants(outcome.ret),
                         outcome.err);
    } catch (const sdbus::Error& error) {
      call_.err << "tetherctl: reply to " << job.id << ": " << error.getMessage() << "\n";
    }
  }

  Outcome execute(const Job& job) {
    Outcome outcome;
    Result<protocol::Map> args = tether::dbus::variants_to_map(job.args, "args");
    if (!args.ok()) {
      outcome.err = "args: " + args.error().message();
      return outcome;
    }
    std::string input = to_json(Value(std::move(args).value())).dump() + "\n";

    int in[2];
    int out[2];
    int err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
        ::pipe2(err, O_CLOEXEC) != 0) {
      outcome.err = std::string("pipe: ") + std::strerror(errno);
      return outcome;
    }
    Fd in_w(in[1]);
    Fd out_r(out[0]);
    Fd err_r(err[0]);
    Fd in_r(in[0]);
    Fd out_w(out[1]);
    Fd err_w(err[1]);

    // Everything the child needs is built before fork (it may only call
    // async-signal-safe functions afterwards).
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      if (entry.starts_with("TETHER_ACTION=") || entry.starts_with("TETHER_REQUEST_ID=")) continue;
      env_strings.emplace_back(entry);
    }
    env_strings.push_back("TETHER_ACTION=" + job.action);
    env_strings.push_back("TETHER_REQUEST_ID=" + job.id);
    std::vector<char*> envp;
    envp.reserve(env_strings.size() + 1);
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings = command_;
    std::vector<char*> argv;
    argv.reserve(argv_strings.size() + 1);
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) {
      outcome.err = std::string("fork: ") + std::strerror(errno);
      return outcome;
    }
    if (pid == 0) {
      ::setpgid(0, 0);
      ::dup2(in_r.get(), 0);
      ::dup2(out_w.get(), 1);
      ::dup2(err_w.get(), 2);
      ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
      ::execvpe(argv[0], argv.data(), envp.data());
      const char* why = "tetherctl serve: cannot run the command\n";
      (void)::write(2, why, std::strlen(why));
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also in the parent: no race with the kill below
    in_r.reset();
    out_w.reset();
    err_w.reset();
    // glibc 2.36 declares pidfd_open without C linkage, so call it directly.
    Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);

    std::string stdout_text;
    std::string stderr_text;
    std::size_t written = 0;
    bool exited = false;
    bool too_much = false;
    auto kill_group = [pid] { ::kill(-pid, SIGKILL); };
    while (!exited || out_r.get() >= 0 || err_r.get() >= 0) {
      std::vector<pollfd> fds;
      fds.push_back({inbox_.fd(), POLLIN, 0});
      fds.push_back({signals_.get(), POLLIN, 0});
      fds.push_back({exited ? -1 : pidfd.get(), POLLIN, 0});
      fds.push_back({in_w.get(), POLLOUT, 0});
      fds.push_back({out_r.get(), POLLIN, 0});
      fds.push_back({err_r.get(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        kill_group();
        break;
      }
      if ((fds[0].revents & POLLIN) != 0) {
        inbox_.drain();
        if (inbox_.has_ended(job.id)) {
          kill_group();
          outcome.cancelled = true;
        }
      }
      if ((fds[1].revents & POLLIN) != 0) {
        kill_group();
        outcome.cancelled = true;
        outcome.stop = true;
      }
      if ((fds[2].revents & POLLIN) != 0) exited = true;
      if (fds[3].revents != 0) {
        ssize_t n = ::write(in_w.get(), input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        if (n < 0 && errno != EAGAIN) written = input.size();  // the child closed stdin
        if (written >= input.size()) in_w.reset();
      }
      char buffer[8192];
      if (fds[4].revents != 0) {
        ssize_t n = ::read(out_r.get(), buffer, sizeof buffer);
        if (n <= 0) {
          out_r.reset();
        } else if (stdout_text.size() + static_cast<std::size_t>(n) > kMaxStdout) {
          too_much = true;
          kill_group();
        } else {
          stdout_text.append(buffer, static_cast<std::size_t>(n));
        }
      }
      if (fds[5].revents != 0) {
        ssize_t n = ::read(err_r.get(), buffer, sizeof buffer);
        if (n <= 0) {
          err_r.reset();
        } else {
          stderr_text.append(buffer, static_cast<std::size_t>(n));
          if (stderr_text.size() > kStderrTail) {
            stderr_text.erase(0, stderr_text.size() - kStderrTail);
          }
        }
      }
      // A background process that keeps the pipes open must not hold the answer.
      if (exited && (out_r.get() >= 0 || err_r.get() >= 0)) {
        pollfd rest[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
        if (::poll(rest, 2, 0) == 0) break;
      }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (outcome.cancelled) return outcome;
    if (too_much) {
      outcome.err = "the command wrote more than " + std::to_string(kMaxStdout) + " bytes";
      return outcome;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      if (stdout_text.find_first_not_of(" \t\r\n") == std::string::npos) {
        outcome.ok = true;
        return outcome;
      }
      nlohmann::json json = nlohmann::json::parse(stdout_text, nullptr, false);
      if (json.is_discarded() || !json.is_object()) {
        outcome.err = "the command's output is not a JSON object";
        return outcome;
      }
      outcome.ok = true;
      Value ret = from_json(json);
      if (protocol::Map* map = ret.as_map()) outcome.ret = std::move(*map);
      return outcome;
    }
    outcome.err = last_line(stderr_text);
    if (outcome.err.empty()) {
      outcome.err = WIFEXITED(status)
                        ? "the command exited with status " + std::to_string(WEXITSTATUS(status))
                        : "the command was killed by signal " + std::to_string(WTERMSIG(status));
    }
    return outcome;
  }

  Invocation& call_;
  std::string target_;
  std::vector<std::string> command_;
  std::unique_ptr<sdbus::IProxy> proxy_;
  Inbox inbox_;
  Fd signals_;
  sigset_t old_mask_{};
};

int run_serve(Invocation& call) {
  const auto& args = call.args;
  if (args.size() < 3 || args[1] != "--" || args[0].empty()) {
    call.err << "tetherctl: usage: serve TARGET -- COMMAND [ARG...]\n";
    return kExitUsage;
  }
  Server server(call, args[0], std::vector<std::string>(args.begin() + 2, args.end()));
  return server.run();
}

}  // namespace

Command serve_command() {
  return {"serve", "serve TARGET -- COMMAND [ARG...]",
          "register TARGET and run COMMAND for each request (args as JSON on stdin, ret as "
          "JSON on stdout)",
          run_serve};
}

}  // namespace tether::tetherctl
