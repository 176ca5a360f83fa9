// One key from the terminal, for a yes/no question asked while the REPL's line editor is
// stopped (a turn is running): raw mode for the read only, Ctrl+C still interrupts.
#pragma once

#include <optional>

namespace meanwhile::cli {

// Waits for one byte on `fd` (a terminal: read without echo or line buffering, then the mode is
// put back; anything else: the first character of the next line). Returns nullopt on end of
// input, an error, or when `interrupt_fd` becomes readable (Ctrl+C).
std::optional<char> read_key(int fd, int interrupt_fd);

}  // namespace meanwhile::cli
