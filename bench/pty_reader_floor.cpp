// pty-reader-floor: the least CPU any daemon can spend moving a shell's output out of
// a PTY, measured rather than argued.
//
// It runs the same pipeline with the same terminal settings as shell-throughput's
// tether and OpenSSH runs, and does nothing with the output but read and discard it:
// no framing, no encryption, no socket. Whatever CPU it spends per MB is a floor under
// every remote shell daemon on this kernel, tetherd and sshd alike. The floor is high
// because the kernel hands PTY output to the master side through a 4 KiB line
// discipline buffer and a flush worker: a reader that wakes up whenever data is there
// wakes up (and context-switches) every few hundred bytes. Waiting a little between
// reads while output streams (--hold-us, about 100 us) lets more data pile up per
// read and roughly halves that cost at the same throughput; waiting much longer loses
// throughput, because the PTY buffers only about 8-12 KiB and the shell then stalls.
// shell-throughput prints this program's numbers next to tetherd's and sshd's, so
// that a target like "a third of sshd's CPU per MB" can be checked against what
// merely reading the PTY costs.
//
// Usage: pty-reader-floor --bytes N [--hold-us U]
// Prints one line at the end of the output, e.g.
//   bytes=135087722 seconds=6.61 cpu=1.81 reads=170000
// where cpu is this process's own user + system time; the shell pipeline runs in a
// child and is not counted, as the daemons' shells are not counted either.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double seconds_of(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long long bytes_to_make = 100000000;
  long hold_us = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--bytes") {
      bytes_to_make = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (flag == "--hold-us") {
      hold_us = std::strtol(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: pty-reader-floor --bytes N [--hold-us U]\n");
      return 2;
    }
  }
  // Without this a 100 us nanosleep sleeps 150 us: the default timer slack is 50 us.
  if (hold_us > 0) ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  // As in shell-throughput: output post-processing and echo off, then the pipeline.
  const std::string command =
      "stty -opost -echo; head -c " + std::to_string(bytes_to_make) + " /dev/urandom | base64";
  winsize window{};
  window.ws_row = 24;
  window.ws_col = 80;
  int master = -1;
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t child = ::forkpty(&master, nullptr, nullptr, &window);
  if (child < 0) {
    std::perror("forkpty");
    return 1;
  }
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Non-blocking, like tetherd's master; one read per wakeup.
  const int flags = ::fcntl(master, F_GETFL);
  ::fcntl(master, F_SETFL, flags | O_NONBLOCK);

  std::vector<char> buffer(1 << 16);
  unsigned long long bytes = 0;
  unsigned long long reads = 0;
  const timespec hold{0, hold_us * 1000};
  for (;;) {
    pollfd fd{master, POLLIN, 0};
    if (::poll(&fd, 1, -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("poll");
      return 1;
    }
    const ssize_t n = ::read(master, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (errno == EIO) break;  // the slave side is closed: the shell has exited
      std::perror("read");
      return 1;
    }
    bytes += static_cast<unsigned long long>(n);
    ++reads;
    if (hold_us > 0 && n < 4000) ::nanosleep(&hold, nullptr);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::close(master);
  int status = 0;
  ::waitpid(child, &status, 0);

  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const double cpu = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
  std::printf("bytes=%llu seconds=%.3f cpu=%.3f reads=%llu\n", bytes, seconds, cpu, reads);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
