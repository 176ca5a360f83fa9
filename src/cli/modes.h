// The two ways `meanwhile` talks to a person: print mode and the REPL.
#pragma once

#include "cli/session.h"

namespace meanwhile::cli {

// `meanwhile -p PROMPT`: runs the task, waits for running jobs and wakes the model with their
// results, exits when the model ends a turn with no job left. Returns the exit code.
int run_print_mode(Session& session, const CliOptions& options);

// `meanwhile` without -p: the interactive REPL.
int run_repl(Session& session, const CliOptions& options);

}  // namespace meanwhile::cli
