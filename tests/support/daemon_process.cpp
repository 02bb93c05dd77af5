#include "tests/support/daemon_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

extern char** environ;

namespace tether::test {

class DaemonProcess::Impl {
 public:
  pid_t pid = -1;
  int output_fd = -1;
  std::optional<int> exit_status;
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::string output;
  bool output_closed = false;
  std::thread reader;
  // A private device.state-dir made for a tetherd that was given none, removed with
  // the process (so that parallel tests never share, or lock, one store).
  std::string private_state_dir;

  void read_output() {
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(output_fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mu);
      if (n <= 0) {
        output_closed = true;
        cv.notify_all();
        return;
      }
      output.append(buffer, static_cast<std::size_t>(n));
      cv.notify_all();
    }
  }

  bool reap(bool block) {
    if (exit_status) return true;
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, block ? 0 : WNOHANG);
    if (r != pid) return false;
    exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
};

DaemonProcess::DaemonProcess(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DaemonProcess::~DaemonProcess() {
  if (!impl_->reap(false)) {
    ::kill(impl_->pid, SIGKILL);
    impl_->reap(true);
  }
  if (impl_->reader.joinable()) impl_->reader.join();
  ::close(impl_->output_fd);
  if (!impl_->private_state_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(impl_->private_state_dir, ignored);
  }
}

Result<std::unique_ptr<DaemonProcess>> DaemonProcess::start(
    const std::string& binary, const std::vector<std::string>& args,
    const std::vector<std::string>& extra_env) {
  // Everything the child needs is prepared before fork(): after it, only
  // async-signal-safe calls are allowed (the test process has threads).
  std::vector<std::string> argv_storage{binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::string private_state_dir;
  const bool is_tetherd = std::filesystem::path(binary).filename() == "tetherd";
  const bool has_state_dir = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a.rfind("--device.state-dir", 0) == 0;
  });
  if (is_tetherd && !has_state_dir) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "tetherd-state-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return Error("mkdtemp failed");
    private_state_dir = pattern;
    argv_storage.push_back("--device.state-dir=" + private_state_dir);
  }
  std::vector<char*> argv;
  argv.reserve(argv_storage.size() + 1);
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  // extra_env replaces inherited variables of the same name.
  auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const bool replaced = std::any_of(extra_env.begin(), extra_env.end(),
                                      [&](const auto& x) { return name_of(x) == name_of(entry); });
    if (!replaced) env_storage.push_back(entry);
  }
  env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  envp.reserve(env_storage.size() + 1);
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Error("pipe2 failed");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execve(binary.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  auto impl = std::make_unique<Impl>();
  impl->pid = pid;
  impl->private_state_dir = private_state_dir;
  impl->output_fd = pipe_fds[0];
  Impl* raw = impl.get();
  impl->reader = std::thread([raw] { raw->read_output(); });
  return std::unique_ptr<DaemonProcess>(new DaemonProcess(std::move(impl)));
}

pid_t DaemonProcess::pid() const {
  return impl_->pid;
}

std::string DaemonProcess::output() const {
  std::lock_guard lock(impl_->mu);
  return impl_->output;
}

std::optional<std::size_t> DaemonProcess::wait_for_output(std::string_view needle,
                                                          std::chrono::milliseconds timeout,
                                                          std::size_t from) const {
  std::unique_lock lock(impl_->mu);
  std::optional<std::size_t> found;
  impl_->cv.wait_for(lock, timeout, [&] {
    if (from > impl_->output.size()) return false;
    const auto at = impl_->output.find(needle, from);
    if (at != std::string::npos) found = at + needle.size();
    return found.has_value() || impl_->output_closed;
  });
  return found;
}

std::size_t DaemonProcess::count_in_output(std::string_view needle) const {
  std::lock_guard lock(impl_->mu);
  std::size_t count = 0;
  for (auto at = impl_->output.find(needle); at != std::string::npos;
       at = impl_->output.find(needle, at + needle.size()))
    ++count;
  return count;
}

void DaemonProcess::send_signal(int signal) const {
  if (!impl_->exit_status) ::kill(impl_->pid, signal);
}

std::optional<int> DaemonProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!impl_->reap(false)) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return impl_->exit_status;
}

bool DaemonProcess::running() {
  return !impl_->reap(false);
}

Result<CompletedProcess> run_to_completion(const std::string& binary,
                                           const std::vector<std::string>& args,
                                           std::chrono::milliseconds timeout) {
  auto process = DaemonProcess::start(binary, args);
  if (!process) return process.error();
  auto status = (*process)->wait_for_exit(timeout);
  if (!status) return Error("timed out: " + binary);
  (*process)->wait_for_output("\x01never\x01", std::chrono::milliseconds(2000));
  return CompletedProcess{*status, (*process)->output()};
}

}  // namespace tether::test
