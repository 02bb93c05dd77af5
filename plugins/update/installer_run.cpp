#include "plugins/update/installer_run.hpp"

#include "daemon/process/run_to_completion.hpp"

namespace tether::plugins::update {

Result<InstallerOutcome> run_installer(const InstallerRequest& request, CancelToken& stop) {
  process::ProgramRun run;
  run.argv = {request.installer, request.artifact};
  run.environment = request.environment;
  if (!request.status_file.empty()) {
    // The wrapper outlives a daemon that is replaced by the installer, and records
    // how the install ended for the daemon that comes next.
    const std::string wrapper =
        "\"$0\" \"$1\"; s=$?; printf '%s\\n' \"$s\" > \"$TETHER_UPDATE_STATUS_FILE.tmp\" && "
        "mv -f \"$TETHER_UPDATE_STATUS_FILE.tmp\" \"$TETHER_UPDATE_STATUS_FILE\"; exit $s";
    run.argv = {"/bin/sh", "-c", wrapper, request.installer, request.artifact};
    run.environment.emplace_back("TETHER_UPDATE_STATUS_FILE", request.status_file);
  }
  run.timeout = request.timeout;
  run.max_output = request.max_output;
  run.keep = process::ProgramRun::Keep::kTail;
  run.abandon = [&stop] { return stop.cancelled(); };
  auto ran = process::run_to_completion(run);
  if (!ran.ok()) return ran.error();
  if (ran->ended == process::ProgramOutcome::Ended::kAbandoned) {
    return Error(ErrorCode::kUnavailable, "the daemon is stopping; the installer runs on");
  }
  InstallerOutcome outcome;
  outcome.success = ran->succeeded();
  if (!outcome.success) outcome.reason = ran->describe(request.timeout);
  outcome.output_tail = std::move(ran->output);
  return outcome;
}

}  // namespace tether::plugins::update
