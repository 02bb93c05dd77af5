#include "plugins/shell/user_account.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tether::plugins::shell {
namespace {

// NSS entries are small; a database that needs more than this is broken or hostile.
constexpr std::size_t kMaxPasswdBuffer = 1 << 20;
// Linux's NGROUPS_MAX.
constexpr int kMaxGroups = 65536;

Result<std::vector<gid_t>> supplementary_groups(const std::string& name, gid_t gid) {
  int count = 32;
  while (count <= kMaxGroups) {
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    int found = count;
    if (::getgrouplist(name.c_str(), gid, groups.data(), &found) >= 0) {
      groups.resize(static_cast<std::size_t>(found));
      return groups;
    }
    // `found` now holds the number needed; retry with that much room.
    count = found > count ? found : count * 2;
  }
  return Error("user " + name + " is in more than " + std::to_string(kMaxGroups) + " groups");
}

}  // namespace

Result<UserAccount> lookup_user(const std::string& name) {
  long suggested = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::size_t size = suggested > 0 ? static_cast<std::size_t>(suggested) : 4096;
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer;
  for (;;) {
    buffer.resize(size);
    int rc = name.empty()
                 ? ::getpwuid_r(::geteuid(), &entry, buffer.data(), buffer.size(), &found)
                 : ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && size < kMaxPasswdBuffer) {
      size *= 2;
      continue;
    }
    std::string who = name.empty() ? "uid " + std::to_string(::geteuid()) : "user " + name;
    if (rc != 0) {
      return Error("looking up " + who + ": " + std::strerror(rc));
    }
    if (found == nullptr) {
      return Error("unknown " + who);
    }
    break;
  }
  UserAccount account;
  account.name = entry.pw_name;
  account.uid = entry.pw_uid;
  account.gid = entry.pw_gid;
  account.home = (entry.pw_dir != nullptr && entry.pw_dir[0] == '/') ? entry.pw_dir : "/";
  auto groups = supplementary_groups(account.name, account.gid);
  if (!groups) {
    return groups.error();
  }
  account.groups = std::move(groups.value());
  return account;
}

}  // namespace tether::plugins::shell
