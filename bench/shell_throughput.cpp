// shell-throughput: what a remote shell costs through tetherd, next to OpenSSH on
// loopback measured in the same run.
//
// For each transport it measures
//   - throughput of `head -c 100000000 /dev/urandom | base64` (about 135 MB of
//     terminal output) from the shell to the client, and the server-side daemon's
//     CPU seconds per 100 MB of it (tetherd: the daemon process alone, not the shell;
//     sshd: the sshd processes of the connection, sampled every 10 ms);
//   - keystroke echo latency: one byte typed into `cat > /dev/null` on a PTY until the
//     terminal's echo is back at the client (p50, p99 of 200);
//   - idle cost of a connected daemon with no session: RSS, and wakeups/s as the
//     delta of voluntary + involuntary context switches of all its threads over 10 s.
// tetherd runs against tests/support's WebSocket server (the "client" here), over
// TLS (wss) and plain ws; OpenSSH runs a private sshd with throwaway keys on a
// spare port, with `ssh -T` and `ssh -tt`. Results are printed with tether/ssh ratios.
//
// Two more peers show what no daemon can go below, measured in the same run rather
// than argued:
//   - pty-reader-floor runs the same pipeline on a PTY with the same terminal
//     settings and only reads and discards the output. Its CPU per 100 MB is the
//     floor of any remote shell on this kernel: PTY output reaches the master in
//     small pieces (a 4 KiB line discipline buffer and a flush worker), so just
//     reading it costs most of what sshd spends. It runs twice: reading on every
//     wakeup, and waiting 100 us after short reads (which halves the floor's CPU
//     at about the same throughput).
//   - tls-client-floor only creates a TLS client context with the bench's CA file,
//     as tetherd does, and sleeps: the memory floor of any TLS client on this OS.
//     It runs next to the idle tetherd, and the idle memory of tetherd, of it and of
//     sshd is printed as VmRSS, Pss and USS (Private_Clean + Private_Dirty from
//     smaps_rollup). VmRSS counts shared library pages in full, Pss divides them
//     among the processes that map them (so it depends on what else runs), USS
//     counts only the process's own pages.
// Their rows and ratios are printed after the tether/ssh ones.
//
// Usage: shell-throughput [--bytes N] [--idle-seconds S] [--tetherd PATH]
// Run as root or as a user sshd will accept by key (the current user).
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "protocol/message.hpp"
#include "tests/support/certificates.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using tether::protocol::ProtoMsg;

// ---- /proc ----------------------------------------------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ProcStat {
  pid_t ppid = 0;
  double cpu_seconds = 0;  // utime + stime of the process itself
  std::string comm;
};

std::optional<ProcStat> proc_stat(pid_t pid) {
  const std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t open = text.find('(');
  const std::size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return std::nullopt;
  ProcStat stat;
  stat.comm = text.substr(open + 1, close - open - 1);
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;
  std::string field;
  while (fields >> field) f.push_back(field);
  if (f.size() < 13) return std::nullopt;
  stat.ppid = static_cast<pid_t>(std::stol(f[1]));
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  stat.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  return stat;
}

double cpu_seconds(pid_t pid) {
  auto stat = proc_stat(pid);
  return stat ? stat->cpu_seconds : 0.0;
}

long status_field(const std::string& status, const std::string& key) {
  const std::size_t at = status.find(key + ":");
  return at == std::string::npos ? 0 : std::atol(status.c_str() + at + key.size() + 1);
}

// Context switches of every thread of `pid`.
long context_switches(pid_t pid) {
  long total = 0;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* dir = ::opendir(tasks.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      const std::string status = read_file(tasks + "/" + entry->d_name + "/status");
      total += status_field(status, "voluntary_ctxt_switches") +
               status_field(status, "nonvoluntary_ctxt_switches");
    }
    ::closedir(dir);
  }
  return total;
}

long rss_kib(pid_t pid) {
  return status_field(read_file("/proc/" + std::to_string(pid) + "/status"), "VmRSS");
}

// A "Key:   123 kB" line of /proc/PID/smaps_rollup, in KiB; -1 if there is none.
long smaps_field(const std::string& smaps, const std::string& key) {
  std::istringstream lines(smaps);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, key.size() + 1, key + ":") == 0) {
      return std::atol(line.c_str() + key.size() + 1);
    }
  }
  return -1;
}

struct Memory {
  long rss_kib = -1;  // VmRSS
  long pss_kib = -1;  // shared pages divided among the processes that map them
  long uss_kib = -1;  // private pages only: Private_Clean + Private_Dirty
  Memory& operator+=(const Memory& other) {
    rss_kib = std::max(rss_kib, 0L) + std::max(other.rss_kib, 0L);
    pss_kib = std::max(pss_kib, 0L) + std::max(other.pss_kib, 0L);
    uss_kib = std::max(uss_kib, 0L) + std::max(other.uss_kib, 0L);
    return *this;
  }
};

Memory memory_kib(pid_t pid) {
  Memory memory;
  memory.rss_kib = rss_kib(pid);
  const std::string smaps = read_file("/proc/" + std::to_string(pid) + "/smaps_rollup");
  memory.pss_kib = smaps_field(smaps, "Pss");
  const long clean = smaps_field(smaps, "Private_Clean");
  const long dirty = smaps_field(smaps, "Private_Dirty");
  if (clean >= 0 && dirty >= 0) memory.uss_kib = clean + dirty;
  return memory;
}

// `root` and every process below it named `comm`.
std::vector<pid_t> tree_named(pid_t root, const std::string& comm) {
  std::map<pid_t, ProcStat> all;
  if (DIR* dir = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
      const pid_t pid = static_cast<pid_t>(std::atol(entry->d_name));
      if (auto stat = proc_stat(pid)) all[pid] = *stat;
    }
    ::closedir(dir);
  }
  std::vector<pid_t> out;
  for (const auto& [pid, stat] : all) {
    pid_t p = pid;
    for (int depth = 0; depth < 16 && p > 1; ++depth) {
      if (p == root) {
        if (stat.comm == comm) out.push_back(pid);
        break;
      }
      auto it = all.find(p);
      if (it == all.end()) break;
      p = it->second.ppid;
    }
  }
  return out;
}

// CPU of a set of processes that come and go: the last value seen of each. The
// process list is rescanned at most every 200 ms and the values read at most every
// 10 ms, so that measuring does not compete with what is measured.
class TreeCpu {
 public:
  TreeCpu(pid_t root, std::string comm) : root_(root), comm_(std::move(comm)) {}
  void sample() {
    const auto now = Clock::now();
    if (now - last_read_ < 10ms) return;
    last_read_ = now;
    if (now - last_scan_ > 200ms) {
      last_scan_ = now;
      pids_ = tree_named(root_, comm_);
    }
    for (pid_t pid : pids_) {
      if (auto stat = proc_stat(pid)) last_[pid] = stat->cpu_seconds;
    }
  }
  double total() const {
    double sum = 0;
    for (const auto& [pid, cpu] : last_) sum += cpu;
    return sum;
  }

 private:
  pid_t root_;
  std::string comm_;
  std::vector<pid_t> pids_;
  std::map<pid_t, double> last_;
  Clock::time_point last_read_{};
  Clock::time_point last_scan_{};
};

struct Percentiles {
  double p50 = 0;
  double p99 = 0;
};
Percentiles percentiles(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

struct Result {
  std::string name;
  double seconds = 0;
  std::size_t bytes = 0;
  double daemon_cpu = 0;
  Percentiles echo_ms;
  long idle_rss_kib = -1;
  double idle_wakeups = -1;
  Memory idle_memory;  // summed over idle_processes
  int idle_processes = 0;
  std::size_t reads = 0;  // pty floors only
  double mb_per_s() const { return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0; }
  double cpu_per_100mb() const {
    return bytes > 0 ? daemon_cpu / (static_cast<double>(bytes) / 1e8) : 0;
  }
};

// ---- tether ----------------------------------------------------------------------------

// A process whose idle memory is read at the same moment as tetherd's, so that both
// Pss values divide the shared library pages among the same set of processes.
struct Neighbour {
  pid_t pid = -1;
  Memory memory;
};

ProtoMsg shell_msg(const std::string& typ, const std::string& sid, const std::string& body = {}) {
  return tether::protocol::make_msg(tether::protocol::proto::kShell, typ, sid, {},
                                    tether::protocol::Bytes(body.begin(), body.end()));
}

class TetherShell {
 public:
  TetherShell(tether::test::TestServer& server, std::string sid)
      : server_(server), sid_(std::move(sid)) {}

  bool open() {
    server_.send(shell_msg("new", sid_));
    return read_until("", 10s, true);
  }
  void type(const std::string& keys) { server_.send(shell_msg("shell", sid_, keys)); }
  // Reads this session's output until its tail contains `marker` (or, with
  // `until_new`, until the `new` reply). Counts the bytes on the way.
  bool read_until(const std::string& marker, std::chrono::milliseconds timeout,
                  bool until_new = false) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto msg = server_.receive_message(100ms);
      if (!msg || msg->hdr.sid != sid_) continue;
      if (until_new && msg->hdr.typ == "new") return msg->hdr.prop_int("status") == 1;
      if (msg->hdr.typ != "shell") continue;
      bytes_ += msg->body.size();
      tail_.append(msg->body.begin(), msg->body.end());
      if (tail_.size() > 4096) tail_.erase(0, tail_.size() - 4096);
      if (!marker.empty() && tail_.find(marker) != std::string::npos) {
        tail_.clear();
        return true;
      }
    }
    return false;
  }
  std::size_t bytes() const { return bytes_; }
  void reset_bytes() { bytes_ = 0; }

 private:
  tether::test::TestServer& server_;
  std::string sid_;
  std::string tail_;
  std::size_t bytes_ = 0;
};

std::optional<Result> bench_tether(const std::string& tetherd, bool tls, std::size_t bytes,
                                   int idle_seconds, const tether::test::TempDir& dir,
                                   const tether::test::CertificateSet& certs,
                                   const std::string& token_file, Neighbour* neighbour) {
  Result result;
  result.name = tls ? "tether wss" : "tether ws";
  tether::test::TestServer::Options options;
  options.tls = tls;
  options.cert_file = certs.server_cert.string();
  options.key_file = certs.server_key.string();
  tether::test::TestServer server(options);
  if (!server.start().ok()) return std::nullopt;
  std::vector<std::string> args = {"--server.url=" + server.url(),
                                   "--server.token-file=" + token_file,
                                   "--server.ca-file=" + certs.ca_cert.string(),
                                   "--dbus.bus=none",
                                   "--device.id=bench",
                                   "--shell.ping-interval=0",
                                   "--shell.idle-timeout=0",
                                   "--log.level=warn"};
  (void)dir;
  auto daemon = tether::test::DaemonProcess::start(tetherd, args);
  if (!daemon.ok()) return std::nullopt;
  if (!server.wait_for_connection(10s)) {
    std::fprintf(stderr, "%s: tetherd did not connect:\n%s\n", result.name.c_str(),
                 (*daemon)->output().c_str());
    return std::nullopt;
  }
  const pid_t pid = (*daemon)->pid();

  if (idle_seconds > 0) {
    std::this_thread::sleep_for(2s);
    const long before = context_switches(pid);
    std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
    result.idle_wakeups = static_cast<double>(context_switches(pid) - before) / idle_seconds;
    result.idle_rss_kib = rss_kib(pid);
    result.idle_memory = memory_kib(pid);
    result.idle_processes = 1;
    if (neighbour != nullptr && neighbour->pid > 0) neighbour->memory = memory_kib(neighbour->pid);
  }

  TetherShell bulk(server, "bulk");
  if (!bulk.open()) return std::nullopt;
  bulk.type("stty -opost -echo; echo rea''dy\n");
  if (!bulk.read_until("ready", 10s)) return std::nullopt;
  bulk.reset_bytes();
  const double cpu0 = cpu_seconds(pid);
  const auto t0 = Clock::now();
  bulk.type("head -c " + std::to_string(bytes) + " /dev/urandom | base64; echo do''ne-mark\n");
  if (!bulk.read_until("done-mark", 300s)) return std::nullopt;
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  result.daemon_cpu = cpu_seconds(pid) - cpu0;
  result.bytes = bulk.bytes() - std::strlen("done-mark\n");

  TetherShell typist(server, "typist");
  if (!typist.open()) return std::nullopt;
  typist.type("exec cat > /dev/null\n");
  std::this_thread::sleep_for(300ms);
  typist.read_until("\n", 2s);
  std::vector<double> echo_ms;
  for (int i = 0; i < 200; ++i) {
    const auto sent = Clock::now();
    typist.type("x");
    if (!typist.read_until("x", 5s)) break;
    echo_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
  }
  result.echo_ms = percentiles(echo_ms);
  return result;
}

// ---- OpenSSH ---------------------------------------------------------------------------

int spare_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A child with its stdin and stdout on pipes; killed with the bench.
struct Child {
  pid_t pid = -1;
  int in = -1;   // we write
  int out = -1;  // we read
  ~Child() {
    if (in >= 0) ::close(in);
    if (out >= 0) ::close(out);
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }
};

std::unique_ptr<Child> spawn(const std::vector<std::string>& argv) {
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) < 0 || ::pipe2(from_child, O_CLOEXEC) < 0) return nullptr;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(to_child[0], 0);
    ::dup2(from_child[1], 1);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  auto child = std::make_unique<Child>();
  child->pid = pid;
  child->in = to_child[1];
  child->out = from_child[0];
  return child;
}

// Root's own login shell may read startup files that do anything (this machine's
// .bashrc starts pyenv); a throwaway user whose shell is /bin/sh, like tether's
// shell.command, keeps the comparison about the transport.
class BenchUser {
 public:
  BenchUser() {
    if (::geteuid() != 0) {
      passwd* me = ::getpwuid(::geteuid());
      name_ = me != nullptr ? me->pw_name : "";
      return;
    }
    name_ = "tbench" + std::to_string(::getpid());
    created_ = std::system(("useradd -M -d /tmp -s /bin/sh -p '*' " + name_).c_str()) == 0;
  }
  ~BenchUser() {
    if (created_) (void)std::system(("userdel -f " + name_ + " 2>/dev/null").c_str());
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool created_ = false;
};

class Sshd {
 public:
  bool start(const tether::test::TempDir& dir, const std::string& user) {
    const std::string d = dir.path().string();
    if (std::system(("ssh-keygen -q -t ed25519 -N '' -f " + d +
                     "/host_key && "
                     "ssh-keygen -q -t ed25519 -N '' -f " +
                     d +
                     "/user_key && "
                     "cp " +
                     d + "/user_key.pub " + d +
                     "/authorized_keys && "
                     "chmod 644 " +
                     d + "/authorized_keys && chmod 755 " + d + " && mkdir -p /run/sshd")
                        .c_str()) != 0) {
      return false;
    }
    // sshd reads authorized_keys with the user's privileges: the directory is
    // opened up (the private keys in it stay 0600).
    port_ = spare_port();
    key_ = d + "/user_key";
    user_ = user;
    dir.write("sshd_config", "Port " + std::to_string(port_) +
                                 "\nListenAddress 127.0.0.1\nHostKey " + d + "/host_key\nPidFile " +
                                 d + "/sshd.pid\nAuthorizedKeysFile " + d +
                                 "/authorized_keys\nPasswordAuthentication no\n"
                                 "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                                 "PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n"
                                 "PrintMotd no\nPrintLastLog no\nAllowUsers " +
                                 user_ + "\n");
    auto daemon = tether::test::DaemonProcess::start("/usr/sbin/sshd",
                                                     {"-D", "-e", "-f", d + "/sshd_config"});
    if (!daemon.ok()) return false;
    daemon_ = std::move(daemon).value();
    // Ready when a connection succeeds.
    for (int i = 0; i < 50; ++i) {
      auto probe = spawn(ssh_args("-T", {"true"}));
      ::close(probe->in);
      probe->in = -1;
      if (probe && probe->wait(5s) == 0) return true;
      std::this_thread::sleep_for(100ms);
    }
    std::fprintf(stderr, "sshd did not come up:\n%s\n", daemon_->output().c_str());
    return false;
  }
  pid_t pid() const { return daemon_->pid(); }
  std::vector<std::string> ssh_args(const std::string& mode,
                                    const std::vector<std::string>& command) const {
    std::vector<std::string> args = {"/usr/bin/ssh",
                                     mode,
                                     "-p",
                                     std::to_string(port_),
                                     "-i",
                                     key_,
                                     "-o",
                                     "StrictHostKeyChecking=no",
                                     "-o",
                                     "UserKnownHostsFile=/dev/null",
                                     "-o",
                                     "LogLevel=ERROR",
                                     "-o",
                                     "BatchMode=yes",
                                     user_ + "@127.0.0.1"};
    args.insert(args.end(), command.begin(), command.end());
    return args;
  }

 private:
  std::unique_ptr<tether::test::DaemonProcess> daemon_;
  int port_ = 0;
  std::string key_;
  std::string user_;
};

std::optional<Result> bench_ssh(Sshd& sshd, const std::string& mode, std::size_t bytes,
                                int idle_seconds) {
  Result result;
  result.name = "openssh " + mode;
  if (idle_seconds > 0) {
    auto idle = spawn(sshd.ssh_args(mode, {"-N"}));
    std::this_thread::sleep_for(2s);
    auto pids = tree_named(sshd.pid(), "sshd");
    long before = 0;
    for (pid_t p : pids) before += context_switches(p);
    std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
    long after = 0;
    long rss = 0;
    for (pid_t p : pids) {
      after += context_switches(p);
      rss += rss_kib(p);
      result.idle_memory += memory_kib(p);
    }
    result.idle_wakeups = static_cast<double>(after - before) / idle_seconds;
    result.idle_rss_kib = rss;
    result.idle_processes = static_cast<int>(pids.size());
  }

  const std::string stty = mode == "-tt" ? "stty -opost; " : "";
  auto child = spawn(
      sshd.ssh_args(mode, {stty + "head -c " + std::to_string(bytes) + " /dev/urandom | base64"}));
  if (!child) return std::nullopt;
  TreeCpu cpu(sshd.pid(), "sshd");
  const auto t0 = Clock::now();
  std::vector<char> buffer(1 << 16);
  while (Clock::now() - t0 < 600s) {
    pollfd fd{child->out, POLLIN, 0};
    ::poll(&fd, 1, 10);
    cpu.sample();
    if ((fd.revents & (POLLIN | POLLHUP)) == 0) continue;
    const ssize_t n = ::read(child->out, buffer.data(), buffer.size());
    if (n <= 0) break;
    result.bytes += static_cast<std::size_t>(n);
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  cpu.sample();
  result.daemon_cpu = cpu.total();
  child->wait(10s);

  if (mode == "-tt") {
    auto typist = spawn(sshd.ssh_args("-tt", {"cat > /dev/null"}));
    std::this_thread::sleep_for(1500ms);
    std::vector<double> echo_ms;
    for (int i = 0; i < 200; ++i) {
      const auto sent = Clock::now();
      if (::write(typist->in, "x", 1) != 1) break;
      bool seen = false;
      while (!seen && Clock::now() - sent < 5s) {
        pollfd fd{typist->out, POLLIN, 0};
        if (::poll(&fd, 1, 100) <= 0) continue;
        char c[256];
        const ssize_t n = ::read(typist->out, c, sizeof c);
        if (n <= 0) break;
        seen = std::memchr(c, 'x', static_cast<std::size_t>(n)) != nullptr;
      }
      if (!seen) break;
      echo_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
    }
    result.echo_ms = percentiles(echo_ms);
  }
  return result;
}

// ---- floors ----------------------------------------------------------------------------

// Everything a child writes to stdout until it closes it (or `timeout` passes).
std::string read_all(Child& child, std::chrono::milliseconds timeout,
                     const std::string& until = {}) {
  std::string text;
  const auto deadline = Clock::now() + timeout;
  char buffer[4096];
  while (Clock::now() < deadline) {
    if (!until.empty() && text.find(until) != std::string::npos) break;
    pollfd fd{child.out, POLLIN, 0};
    if (::poll(&fd, 1, 100) <= 0) continue;
    const ssize_t n = ::read(child.out, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

std::optional<Result> bench_pty_floor(const std::string& path, std::size_t bytes, int hold_us) {
  Result result;
  result.name = hold_us > 0 ? "pty floor (" + std::to_string(hold_us) + " us hold)"
                            : "pty floor (read on wake)";
  auto child =
      spawn({path, "--bytes", std::to_string(bytes), "--hold-us", std::to_string(hold_us)});
  if (!child) return std::nullopt;
  ::close(child->in);
  child->in = -1;
  const std::string line = read_all(*child, 600s);
  child->wait(10s);
  unsigned long long got = 0;
  unsigned long long reads = 0;
  if (std::sscanf(line.c_str(), "bytes=%llu seconds=%lf cpu=%lf reads=%llu", &got, &result.seconds,
                  &result.daemon_cpu, &reads) != 4) {
    std::fprintf(stderr, "%s: unexpected output: %s\n", result.name.c_str(), line.c_str());
    return std::nullopt;
  }
  result.bytes = static_cast<std::size_t>(got);
  result.reads = static_cast<std::size_t>(reads);
  return result;
}

// Started before the tether runs and measured next to the idle tetherd.
std::unique_ptr<Child> start_tls_floor(const std::string& path, const std::string& ca_file) {
  auto child = spawn({path, ca_file});
  if (!child) return nullptr;
  if (read_all(*child, 10s, "ready\n").find("ready\n") == std::string::npos) {
    std::fprintf(stderr, "tls-client-floor did not get ready\n");
    return nullptr;
  }
  return child;
}

// ---- output ----------------------------------------------------------------------------

void print(const Result& r) {
  std::printf("%-14s %9.1f MB/s %8.2f s  cpu %6.2f s/100MB  echo p50 %6.2f ms p99 %6.2f ms",
              r.name.c_str(), r.mb_per_s(), r.seconds, r.cpu_per_100mb(), r.echo_ms.p50,
              r.echo_ms.p99);
  if (r.idle_rss_kib >= 0) {
    std::printf("  idle rss %6ld KiB  %5.1f wakeups/s", r.idle_rss_kib, r.idle_wakeups);
  }
  std::printf("  (%zu bytes)\n", r.bytes);
}

void ratio(const char* what, double tether, double ssh) {
  std::printf("  %-28s %8.3f  (tether %.3f, ssh %.3f)\n", what, ssh != 0 ? tether / ssh : 0, tether,
              ssh);
}

// As ratio(), for lines whose two sides are not tether and ssh.
void ratio_of(const std::string& what, const char* a_name, double a, const char* b_name, double b) {
  std::printf("  %-40s %8.3f  (%s %.3f, %s %.3f)\n", what.c_str(), b != 0 ? a / b : 0, a_name, a,
              b_name, b);
}

void print_memory(const std::string& name, double rss, double pss, double uss) {
  std::printf("  %-28s %10.0f %10.0f %10.0f\n", name.c_str(), rss, pss, uss);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t bytes = 100000000;
  int idle_seconds = 10;
  std::string tetherd = TETHERD_PATH;
  const std::string pty_floor = PTY_READER_FLOOR_PATH;
  const std::string tls_floor = TLS_CLIENT_FLOOR_PATH;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--bytes") bytes = std::stoul(argv[i + 1]);
    if (flag == "--idle-seconds") idle_seconds = std::atoi(argv[i + 1]);
    if (flag == "--tetherd") tetherd = argv[i + 1];
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  tether::test::TempDir dir;
  auto certs = tether::test::Certificates::make(dir.path());
  if (!certs.ok()) {
    std::fprintf(stderr, "certificates: %s\n", certs.error().message().c_str());
    return 1;
  }
  const std::string token = dir.write("token", "bench-token\n").string();

  std::vector<Result> results;
  Neighbour tls_floor_idle;
  for (bool tls : {true, false}) {
    std::unique_ptr<Child> floor;
    if (tls && idle_seconds > 0) {
      floor = start_tls_floor(tls_floor, certs->ca_cert.string());
      if (!floor) return 1;
      tls_floor_idle.pid = floor->pid;
    }
    auto r = bench_tether(tetherd, tls, bytes, tls ? idle_seconds : 0, dir, *certs, token,
                          &tls_floor_idle);
    if (!r) {
      std::fprintf(stderr, "tether %s run failed\n", tls ? "wss" : "ws");
      return 1;
    }
    print(*r);
    results.push_back(*r);
  }
  BenchUser user;
  Sshd sshd;
  if (!sshd.start(dir, user.name())) return 1;
  for (const std::string mode : {"-T", "-tt"}) {
    auto r = bench_ssh(sshd, mode, bytes, mode == "-tt" ? idle_seconds : 0);
    if (!r) {
      std::fprintf(stderr, "ssh %s run failed\n", mode.c_str());
      return 1;
    }
    print(*r);
    results.push_back(*r);
  }
  for (int hold_us : {0, 100}) {
    auto r = bench_pty_floor(pty_floor, bytes, hold_us);
    if (!r) {
      std::fprintf(stderr, "pty floor (hold %d us) run failed\n", hold_us);
      return 1;
    }
    print(*r);
    results.push_back(*r);
  }
  const Result& wss = results[0];
  const Result& ws = results[1];
  const Result& ssh_t = results[2];
  const Result& ssh_tt = results[3];
  std::printf("\nratios tether/ssh (lower is better for cpu and latency, higher for MB/s):\n");
  ratio("throughput wss / ssh -tt", wss.mb_per_s(), ssh_tt.mb_per_s());
  ratio("throughput wss / ssh -T", wss.mb_per_s(), ssh_t.mb_per_s());
  ratio("throughput ws / ssh -tt", ws.mb_per_s(), ssh_tt.mb_per_s());
  ratio("cpu/100MB wss / ssh -tt", wss.cpu_per_100mb(), ssh_tt.cpu_per_100mb());
  ratio("cpu/100MB wss / ssh -T", wss.cpu_per_100mb(), ssh_t.cpu_per_100mb());
  ratio("cpu/100MB ws / ssh -tt", ws.cpu_per_100mb(), ssh_tt.cpu_per_100mb());
  ratio("echo p50 wss / ssh -tt", wss.echo_ms.p50, ssh_tt.echo_ms.p50);
  ratio("echo p99 wss / ssh -tt", wss.echo_ms.p99, ssh_tt.echo_ms.p99);
  ratio("idle rss wss / sshd", static_cast<double>(wss.idle_rss_kib),
        static_cast<double>(ssh_tt.idle_rss_kib));
  ratio("idle wakeups/s wss / sshd", wss.idle_wakeups, ssh_tt.idle_wakeups);

  const Result& wake = results[4];
  const Result& hold = results[5];
  std::printf("\nratios against the pty floors (what only reading the PTY costs):\n");
  ratio_of("cpu/100MB wss / pty floor (wake)", "wss", wss.cpu_per_100mb(), "floor",
           wake.cpu_per_100mb());
  ratio_of("cpu/100MB wss / pty floor (hold)", "wss", wss.cpu_per_100mb(), "floor",
           hold.cpu_per_100mb());
  ratio_of("cpu/100MB pty floor (wake) / ssh -tt", "floor", wake.cpu_per_100mb(), "ssh",
           ssh_tt.cpu_per_100mb());
  ratio_of("cpu/100MB pty floor (hold) / ssh -tt", "floor", hold.cpu_per_100mb(), "ssh",
           ssh_tt.cpu_per_100mb());
  ratio_of("throughput pty floor (wake) / ssh -tt", "floor", wake.mb_per_s(), "ssh",
           ssh_tt.mb_per_s());
  ratio_of("throughput pty floor (hold) / ssh -tt", "floor", hold.mb_per_s(), "ssh",
           ssh_tt.mb_per_s());
  for (const Result* floor : {&wake, &hold}) {
    std::printf("  %-40s %8.0f  (%zu reads)\n", (floor->name + " bytes/read").c_str(),
                floor->reads > 0
                    ? static_cast<double>(floor->bytes) / static_cast<double>(floor->reads)
                    : 0.0,
                floor->reads);
  }

  if (idle_seconds > 0) {
    const Memory& t = wss.idle_memory;
    const Memory& f = tls_floor_idle.memory;
    const Memory& s = ssh_tt.idle_memory;
    const double n = std::max(ssh_tt.idle_processes, 1);
    std::printf("\nidle memory, KiB                   VmRSS        Pss        USS\n");
    print_memory("tetherd (wss)", static_cast<double>(t.rss_kib), static_cast<double>(t.pss_kib),
                 static_cast<double>(t.uss_kib));
    print_memory("tls client floor", static_cast<double>(f.rss_kib), static_cast<double>(f.pss_kib),
                 static_cast<double>(f.uss_kib));
    print_memory("sshd (" + std::to_string(ssh_tt.idle_processes) + " processes)",
                 static_cast<double>(s.rss_kib), static_cast<double>(s.pss_kib),
                 static_cast<double>(s.uss_kib));
    print_memory("sshd per process", static_cast<double>(s.rss_kib) / n,
                 static_cast<double>(s.pss_kib) / n, static_cast<double>(s.uss_kib) / n);
    std::printf("\nratios idle memory (tls floor measured next to the idle tetherd):\n");
    const struct {
      const char* name;
      long Memory::*field;
    } kinds[] = {{"vmrss", &Memory::rss_kib}, {"pss", &Memory::pss_kib}, {"uss", &Memory::uss_kib}};
    for (const auto& kind : kinds) {
      ratio_of(std::string(kind.name) + " tether / tls floor", "tether",
               static_cast<double>(t.*kind.field), "floor", static_cast<double>(f.*kind.field));
      ratio_of(std::string(kind.name) + " tether / sshd", "tether",
               static_cast<double>(t.*kind.field), "sshd", static_cast<double>(s.*kind.field));
    }
  }
  return 0;
}
