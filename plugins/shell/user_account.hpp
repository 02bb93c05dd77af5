// The account a shell runs as: everything the child needs to become that user,
// resolved once in the parent. Resolution goes through NSS (getpwnam_r,
// getgrouplist), which may block on LDAP or sssd, so it happens when the plugin
// starts rather than on the event loop for every `new`, and the spawning child
// then needs nothing but raw system calls.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "protocol/result.hpp"

namespace tether::plugins::shell {

struct UserAccount {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  // Supplementary groups as initgroups(3) would set them (includes `gid`).
  std::vector<gid_t> groups;
  std::string home;
};

// Looks `name` up in the user database; an empty name means the user the daemon
// itself runs as (its effective uid). Blocking: call at start-up or off the loop.
Result<UserAccount> lookup_user(const std::string& name);

}  // namespace tether::plugins::shell
