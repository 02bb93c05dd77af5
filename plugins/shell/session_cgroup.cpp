#include "plugins/shell/session_cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace tether::plugins::shell {
namespace {

constexpr std::string_view kSessionsName = "tether-shell";
constexpr std::string_view kSessionPrefix = "session-";
// Daemons sharing one cgroup (tests, or two instances started by hand) each take a
// sessions directory of their own; beyond this many, cgroups are not used.
constexpr int kSessionsSlots = 8;
// cgroup.procs lists one pid per line: 16 KiB holds at least ~2000 of them.
constexpr std::size_t kProcsReadCap = std::size_t{16} * 1024;

Error errno_error(const std::string& what, int error = errno) {
  return Error(ErrorCode::kIo, what + ": " + std::strerror(error));
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string_view digits = field.substr(i + 1, 3);
      bool octal = digits.size() == 3;
      for (char c : digits) {
        octal = octal && c >= '0' && c <= '7';
      }
      if (octal) {
        out.push_back(static_cast<char>(((digits[0] - '0') << 6) | ((digits[1] - '0') << 3) |
                                        (digits[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

Result<std::string> read_small_file(const std::string& path, std::size_t cap) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return errno_error("opening " + path);
  }
  std::string text;
  char buf[4096];
  while (text.size() < cap) {
    const ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, cap - text.size()));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return errno_error("reading " + path);
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

Status write_file(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return errno_error("opening " + path);
  }
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return errno_error("writing " + path);
  }
  return Status::Ok();
}

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

// systemd owns the cgroup tree it manages, except the subtrees it delegated: those
// carry the "trusted.delegate" (or, for user managers, "user.delegate") attribute.
bool delegated_by_systemd(const std::string& directory) {
  char value[8];
  return ::getxattr(directory.c_str(), "trusted.delegate", value, sizeof value) > 0 ||
         ::getxattr(directory.c_str(), "user.delegate", value, sizeof value) > 0;
}

bool systemd_is_running() {
  struct stat info {};
  return ::lstat("/run/systemd/system", &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

std::optional<Cgroup2Mount> find_cgroup2_mount(std::string_view mountinfo) {
  for (std::string_view line : split(mountinfo, '\n')) {
    // id parent major:minor root mount-point options [optional fields] - type source ...
    const std::size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) {
      continue;
    }
    const std::vector<std::string_view> tail = split(line.substr(dash + 3), ' ');
    if (tail.empty() || tail[0] != "cgroup2") {
      continue;
    }
    const std::vector<std::string_view> head = split(line.substr(0, dash), ' ');
    if (head.size() < 6 || head[3].empty() || head[4].empty() || head[4].front() != '/' ||
        head[3].front() != '/') {
      continue;
    }
    return Cgroup2Mount{unescape_octal(head[4]), unescape_octal(head[3])};
  }
  return std::nullopt;
}

std::optional<std::string> own_cgroup2_path(std::string_view proc_self_cgroup) {
  for (std::string_view line : split(proc_self_cgroup, '\n')) {
    if (line.substr(0, 3) != "0::") {
      continue;
    }
    std::string_view path = line.substr(3);
    if (path.empty() || path.front() != '/' || path.find(" (deleted)") != std::string_view::npos ||
        path.find("/..") != std::string_view::npos) {
      return std::nullopt;
    }
    return std::string(path);
  }
  return std::nullopt;
}

std::optional<std::string> cgroup_directory(const Cgroup2Mount& mount, std::string_view path) {
  std::string_view root = mount.root;
  while (root.size() > 1 && root.back() == '/') {
    root.remove_suffix(1);
  }
  std::string_view below = path;
  if (root != "/") {
    // A bind mount of a subtree: only paths inside it can be reached.
    if (path.substr(0, root.size()) != root ||
        (path.size() > root.size() && path[root.size()] != '/')) {
      return std::nullopt;
    }
    below = path.substr(root.size());
  }
  std::string directory = mount.mount_point;
  while (directory.size() > 1 && directory.back() == '/') {
    directory.pop_back();
  }
  while (!below.empty() && below.front() == '/') {
    below.remove_prefix(1);
  }
  if (!below.empty()) {
    directory += (directory == "/" ? "" : "/") + std::string(below);
  }
  return directory;
}

// ---- SessionCgroup ------------------------------------------------------------------

SessionCgroup::SessionCgroup(std::string directory, UniqueFd procs)
    : directory_(std::move(directory)), procs_(std::move(procs)) {}

Status SessionCgroup::kill() const {
  return write_file(directory_ + "/cgroup.kill", "1");
}

std::vector<pid_t> SessionCgroup::members(std::size_t limit) const {
  std::vector<pid_t> pids;
  auto text = read_small_file(directory_ + "/cgroup.procs", kProcsReadCap);
  if (!text) {
    return pids;
  }
  for (std::string_view line : split(*text, '\n')) {
    pid_t pid = 0;
    if (pids.size() < limit &&
        std::from_chars(line.data(), line.data() + line.size(), pid).ec == std::errc() && pid > 1) {
      pids.push_back(pid);
    }
  }
  return pids;
}

std::size_t SessionCgroup::signal_members(int signal, std::size_t limit) const {
  const std::vector<pid_t> pids = members(limit);
  for (pid_t pid : pids) {
    ::kill(pid, signal);
    if (signal == SIGHUP) {
      ::kill(pid, SIGCONT);
    }
  }
  return pids.size();
}

bool SessionCgroup::populated() const {
  auto text = read_small_file(directory_ + "/cgroup.events", 4096);
  return text && text->find("populated 1") != std::string::npos;
}

bool SessionCgroup::remove() {
  if (removed_) {
    return true;
  }
  procs_.reset();
  removed_ = ::rmdir(directory_.c_str()) == 0 || errno == ENOENT;
  return removed_;
}

// ---- SessionCgroups -----------------------------------------------------------------

Result<SessionCgroups> SessionCgroups::open() {
  auto mountinfo = read_small_file("/proc/self/mountinfo", std::size_t{1} << 20);
  if (!mountinfo) {
    return mountinfo.error();
  }
  const auto mount = find_cgroup2_mount(*mountinfo);
  if (!mount) {
    return Error(ErrorCode::kUnavailable, "no cgroup v2 hierarchy is mounted");
  }
  auto own_text = read_small_file("/proc/self/cgroup", std::size_t{64} * 1024);
  if (!own_text) {
    return own_text.error();
  }
  const auto own_path = own_cgroup2_path(*own_text);
  if (!own_path) {
    return Error(ErrorCode::kUnavailable, "the daemon is in no cgroup v2 cgroup");
  }
  const auto own = cgroup_directory(*mount, *own_path);
  if (!own) {
    return Error(ErrorCode::kUnavailable,
                 "the daemon's cgroup " + *own_path + " is outside the mounted cgroup v2 tree");
  }
  if (::access(own->c_str(), W_OK) != 0 || ::access((*own + "/cgroup.procs").c_str(), W_OK) != 0) {
    return Error(ErrorCode::kAccessDenied,
                 "the daemon's cgroup " + *own + " is not writable (needs root or delegation)");
  }
  if (systemd_is_running() && *own_path != "/" && !delegated_by_systemd(*own)) {
    return Error(ErrorCode::kAccessDenied,
                 "systemd did not delegate the daemon's cgroup " + *own + " (Delegate=yes)");
  }
  std::optional<std::string> chosen;
  UniqueFd chosen_lock;
  std::vector<Stale> stale;
  for (int slot = 0; slot < kSessionsSlots; ++slot) {
    std::string directory = *own + "/" + std::string(kSessionsName);
    if (slot > 0) {
      directory += "-" + std::to_string(slot);
    }
    if (!chosen && ::mkdir(directory.c_str(), 0755) < 0 && errno != EEXIST) {
      return errno_error("creating " + directory);
    }
    UniqueFd lock(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!lock.valid() || ::flock(lock.get(), LOCK_EX | LOCK_NB) < 0) {
      continue;  // absent, or another live daemon's
    }
    if (!chosen) {
      chosen = std::move(directory);
      chosen_lock = std::move(lock);
    } else {
      stale.push_back(Stale{std::move(directory), std::move(lock)});
    }
  }
  if (!chosen) {
    return Error(ErrorCode::kBusy, "every sessions cgroup under " + *own + " is in use");
  }
  if (!exists(*chosen + "/cgroup.kill")) {
    return Error(ErrorCode::kUnavailable, "the kernel has no cgroup.kill (needs Linux 5.14)");
  }
  return SessionCgroups(std::move(*chosen), std::move(chosen_lock), std::move(stale));
}

Result<SessionCgroup> SessionCgroups::create() {
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::string directory =
        directory_ + "/" + std::string(kSessionPrefix) + std::to_string(next_++);
    if (::mkdir(directory.c_str(), 0755) < 0) {
      if (errno == EEXIST) {
        continue;  // a leftover that could not be removed yet
      }
      return errno_error("creating the session cgroup " + directory);
    }
    UniqueFd procs(::open((directory + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!procs.valid()) {
      const int error = errno;
      ::rmdir(directory.c_str());
      return errno_error("opening " + directory + "/cgroup.procs", error);
    }
    return SessionCgroup(std::move(directory), std::move(procs));
  }
  return Error(ErrorCode::kBusy, "no free session cgroup name under " + directory_);
}

std::vector<SessionCgroup> SessionCgroups::end_leftovers() {
  std::vector<SessionCgroup> leftovers;
  std::vector<std::string> directories = {directory_};
  for (const Stale& other : stale_) {
    directories.push_back(other.directory);
  }
  for (const std::string& directory : directories) {
    DIR* dir = ::opendir(directory.c_str());
    if (dir == nullptr) {
      continue;
    }
    while (dirent* entry = ::readdir(dir)) {
      const std::string_view name = entry->d_name;
      if (entry->d_type != DT_DIR || name.substr(0, kSessionPrefix.size()) != kSessionPrefix) {
        continue;
      }
      SessionCgroup leftover(directory + "/" + std::string(name), UniqueFd());
      (void)leftover.kill();  // an error means it is gone already
      leftovers.push_back(std::move(leftover));
    }
    ::closedir(dir);
  }
  stale_.clear();  // releases their locks
  return leftovers;
}

SessionCgroups::~SessionCgroups() {
  if (lock_.valid()) {
    ::rmdir(directory_.c_str());  // fails, harmlessly, while a session cgroup remains
  }
}

}  // namespace tether::plugins::shell
