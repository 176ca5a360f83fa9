// Fuzz target: what `meanwhile mcp` does with the bytes a client writes to its stdin.
// 1. The stdio transport's line framing (mcp::LineReader, src/mcp/stdio_transport.h): the input
//    is written into a packet-mode pipe in pieces chosen by the input's hash (and one byte at a
//    time for short inputs; each write is one read() for the reader), and the lines and
//    too-long reports must equal those of a plain split at '\n', whatever the pieces; once with
//    the default line limit, once with a small one so that the skip-the-rest path runs.
// 2. Each line through jsonrpc::parse_line (src/mcp/jsonrpc.h), then the answer the session
//    would build from it: every classification must be a consistent message.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "lane/unique_fd.h"
#include "mcp/jsonrpc.h"
#include "mcp/stdio_transport.h"

namespace {

namespace jsonrpc = meanwhile::mcp::jsonrpc;
using meanwhile::UniqueFd;
using meanwhile::mcp::LineReader;

constexpr std::size_t kPacket = 4096;  // PIPE_BUF: the largest write that stays one packet

// What the reader must report: "L<line>" for a line, "T" for a line over the limit.
std::vector<std::string> expected_frames(std::string_view input, std::size_t max_line) {
  std::vector<std::string> frames;
  while (!input.empty()) {
    const std::size_t newline = input.find('\n');
    std::string_view line = input.substr(0, newline);
    if (line.size() > max_line) {
      frames.push_back("T");
    } else if (newline != std::string_view::npos) {
      if (line.ends_with('\r')) line.remove_suffix(1);
      frames.push_back("L" + std::string(line));
    } else {
      frames.push_back("L" + std::string(line));  // the unterminated last line, as it is
    }
    if (newline == std::string_view::npos) break;
    input.remove_prefix(newline + 1);
  }
  return frames;
}

// The frames LineReader reports when the input arrives in `chunks` (each at most kPacket bytes).
// Returns false when the pipe cannot hold that many packets (the caller skips that chunking).
bool read_frames(const std::vector<std::string_view>& chunks, std::size_t max_line,
                 std::vector<std::string>& frames) {
  int fds[2];
  if (::pipe2(fds, O_DIRECT | O_CLOEXEC) != 0) return false;
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  const int capacity = ::fcntl(write_end.get(), F_SETPIPE_SZ, 1 << 20);
  const std::size_t slots = capacity > 0 ? static_cast<std::size_t>(capacity) / 4096 : 16;
  std::size_t packets = 0;
  for (std::string_view chunk : chunks) packets += chunk.empty() ? 0 : 1;
  if (packets > slots) return false;
  for (std::string_view chunk : chunks) {
    if (chunk.empty()) continue;  // a write of 0 bytes is no packet
    FUZZ_CHECK(
        ::write(write_end.get(), chunk.data(), chunk.size()) == static_cast<ssize_t>(chunk.size()),
        "a write to the test pipe was short");
  }
  write_end.reset();  // EOF after the last packet

  LineReader reader(read_end.get(), -1, max_line);
  std::string line;
  for (;;) {
    switch (reader.next(line)) {
      case LineReader::Event::line:
        FUZZ_CHECK(line.size() <= max_line, "a line longer than the limit was returned");
        frames.push_back("L" + line);
        break;
      case LineReader::Event::too_long:
        frames.push_back("T");
        break;
      case LineReader::Event::eof:
        return true;
      case LineReader::Event::woken:
      case LineReader::Event::error:
        FUZZ_CHECK(false, "LineReader reported woken or error on a plain pipe");
    }
  }
}

void check_framing(std::string_view input, std::size_t max_line) {
  const std::vector<std::string> expected = expected_frames(input, max_line);
  std::vector<std::vector<std::string_view>> chunkings = {
      meanwhile::fuzz::fixed_chunks(input, kPacket),
      meanwhile::fuzz::random_chunks(input, kPacket)};
  if (input.size() <= 200) chunkings.push_back(meanwhile::fuzz::fixed_chunks(input, 1));
  for (const auto& chunks : chunkings) {
    std::vector<std::string> frames;
    if (!read_frames(chunks, max_line, frames)) continue;
    FUZZ_CHECK(frames == expected, "LineReader's lines differ from a split at newlines (limit " +
                                       std::to_string(max_line) + ", " +
                                       std::to_string(chunks.size()) + " pieces)");
  }
}

bool is_id(const jsonrpc::json& id) {
  return id.is_string() || id.is_number_integer();
}

void check_message(std::string_view line) {
  const jsonrpc::Incoming in = jsonrpc::parse_line(line);
  using Kind = jsonrpc::Incoming::Kind;
  FUZZ_CHECK(in.params.is_object(), "params is not an object");
  switch (in.kind) {
    case Kind::empty:
      FUZZ_CHECK(line.find_first_not_of(" \t\r\n") == std::string_view::npos,
                 "a non-blank line was classified as empty");
      break;
    case Kind::request:
      FUZZ_CHECK(is_id(in.id), "a request's id is not a string or an integer: " + in.id.dump());
      FUZZ_CHECK(!jsonrpc::id_key(in.id).empty(), "empty id key");
      break;
    case Kind::notification:
      FUZZ_CHECK(in.id.is_null(), "a notification has an id");
      break;
    case Kind::response:
      FUZZ_CHECK(in.id.is_null() || is_id(in.id), "a response's id is unusable");
      break;
    case Kind::invalid:
      FUZZ_CHECK(in.error_code == jsonrpc::kParseError ||
                     in.error_code == jsonrpc::kInvalidRequest ||
                     in.error_code == jsonrpc::kInvalidParams,
                 "unexpected error code " + std::to_string(in.error_code));
      FUZZ_CHECK(!in.error_message.empty(), "an error without a message");
      FUZZ_CHECK(in.id.is_null() || is_id(in.id), "an error answer's id is unusable");
      break;
  }
  // The answers the session builds from it serialize (invalid UTF-8 in the method included).
  const jsonrpc::json id = in.id;
  std::string answer =
      in.kind == Kind::invalid
          ? jsonrpc::serialize(jsonrpc::make_error(id, in.error_code, in.error_message))
          : jsonrpc::serialize(jsonrpc::make_result(id, in.params));
  FUZZ_CHECK(answer.find('\n') == std::string::npos, "an answer spans more than one line");
  FUZZ_CHECK(!jsonrpc::serialize(jsonrpc::make_error(id, jsonrpc::kMethodNotFound,
                                                     "Method not found: " + in.method))
                  .empty(),
             "empty answer");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = meanwhile::fuzz::as_text(data, size);
  check_framing(input, LineReader::kDefaultMaxLine);
  check_framing(input, 1 + input.size() % 97);  // small: over-long lines and their skipped rest
  for (const std::string& frame : expected_frames(input, LineReader::kDefaultMaxLine)) {
    check_message(std::string_view(frame).substr(1));
  }
  return 0;
}
