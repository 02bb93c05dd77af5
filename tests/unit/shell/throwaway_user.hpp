// A user created for one test and removed after it, so that "runs as shell.user"
// is checked against a user other than the one running the tests. Needs root;
// without root, available() is false and the tests that need it skip (saying so).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace tether::plugins::shell::test {

class ThrowawayUser {
 public:
  ThrowawayUser() {
    if (::geteuid() != 0) {
      return;
    }
    name_ = "tsh" + std::to_string(::getpid());
    home_ = "/tmp/" + name_ + "-home";
    // useradd refuses while another process holds the passwd lock: retry briefly.
    for (int attempt = 0; attempt < 50 && !available_; ++attempt) {
      available_ = run("useradd -m -d " + home_ + " -s /bin/sh " + name_);
      if (!available_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
  ~ThrowawayUser() {
    if (!available_) {
      return;
    }
    // -f: remove even if a test failed to end one of the user's processes.
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (run("userdel -r -f " + name_)) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    run("rm -rf " + home_);
  }
  ThrowawayUser(const ThrowawayUser&) = delete;
  ThrowawayUser& operator=(const ThrowawayUser&) = delete;

  bool available() const { return available_; }
  const std::string& name() const { return name_; }
  const std::string& home() const { return home_; }

 private:
  static bool run(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }

  std::string name_;
  std::string home_;
  bool available_ = false;
};

}  // namespace tether::plugins::shell::test
