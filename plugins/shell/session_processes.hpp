// Finding and signalling every process of a terminal session.
//
// Why not just kill(-pgid): a job-control shell puts each job (`sleep 1000 &`) in a
// process group of its own, and kill(-pgid) reaches one group only. The processes
// of a shell's session are those whose session id is the shell's pid (the shell
// called setsid()); Linux does not hand that number out again while any process
// still uses it as a session or group id, so the id stays valid even after the
// shell itself is gone. There is no system call for "signal a session", so the set
// is read from /proc. Reading /proc is a few hundred small reads on a gateway, and it
// happens only when a session ends, never per byte.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <vector>

namespace tether::plugins::shell {

// Pids of the live (not zombie) processes whose session id is `session_id`.
std::vector<pid_t> live_processes_in_session(pid_t session_id);

// Sends `signal` to every live process of the session and returns how many there
// were. SIGHUP is followed by SIGCONT so that stopped jobs wake up to receive it.
std::size_t signal_session(pid_t session_id, int signal);

// SIGKILLs the session until no live process is left or `rounds` passes are used
// (a process may fork between the scan and the kill). Returns the number left.
std::size_t kill_session(pid_t session_id, int rounds = 8);

}  // namespace tether::plugins::shell
