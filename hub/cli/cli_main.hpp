// The operator CLI's entry point: `tether-hub cp ...` and `tether-hub forward ...`
// (hub/main.cpp hands over when argv[1] names one of them). Builds the event loop
// and the command, runs it, and turns the outcome into an exit status: 0 done,
// 1 the transfer or forward failed, 2 bad arguments. Errors go to stderr as one
// line each, prefixed with "tether-hub <command>:".
#pragma once

#include "hub/cli/cli_options.hpp"  // is_cli_command

namespace tether::hub::cli {

int run_operator_cli(int argc, char** argv);

}  // namespace tether::hub::cli
