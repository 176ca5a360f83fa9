// Reading a job's log file for Lane::read_output: the four modes, the filter, and the cut, with
// memory and I/O bounded by what the answer keeps (a 1 GB log is never read whole).
#pragma once

#include <cstdint>
#include <string>

#include "meanwhile/lane.h"

namespace meanwhile {

// Reads `log_path` as `request` asks (request.id is not used) and cleans the text (text::clean).
//
// - since_last: the bytes from *cursor to the end of the file, then *cursor moves past them.
//   While the job runs, the read stops after the last complete line (unless a partial line is
//   all there is) and never splits a UTF-8 character, so the next read continues cleanly.
// - tail / head: the last / first request.lines lines. With a filter: the last / first
//   request.lines lines that match it (the filter selects before counting). Lines are looked
//   for within 256 MiB of the end / start (longer lines: the range starts / ends there).
// - all: the whole log. A long range is read only where the cut keeps it (its head and tail);
//   the lines of the omitted middle are counted up to 256 MiB, beyond that only bytes are.
// The filter (an RE2 regex, matched against the first 4 KiB of each cleaned line) keeps
// matching lines; it scans at most the last (head mode: first) 256 MiB of the range, and says
// so in the text when it skipped some. The result is cut in the middle to request.max_bytes
// (0: 30000) with text::cut_middle's marker; lines_omitted/bytes_omitted count what was left
// out (bytes of the unread middle are raw log bytes).
//
// A missing log file means the job printed nothing: empty text, not an error. `cursor` may be
// null (since_last then reads from 0 and remembers nothing). Never throws.
Result<OutputChunk> read_log(const std::string& log_path, const ReadRequest& request,
                             std::uint64_t* cursor, bool job_running);

}  // namespace meanwhile
