// read_file and write_file, and the definitions of the three file tools (edit_file runs in
// tools_edit.cc).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "lane/unique_fd.h"
#include "tools/file_io.h"
#include "tools/tools_internal.h"
#include "tools/workspace_path.h"

namespace meanwhile {
namespace {

using nlohmann::json;

constexpr std::size_t kDefaultLineLimit = 2000;
constexpr std::size_t kMaxReadOutputBytes = 100'000;  // read_file stops there

// --- read_file ---

ToolResult read_file(const json& args, ToolContext& ctx) {
  const std::string shown = string_arg(args, "path");
  auto wp = resolve_workspace_path(ctx.workspace, shown);
  if (!wp) return error_result(wp.error());
  struct stat st {};
  auto fd = open_for_reading(*wp, shown, st);
  if (!fd) return error_result(fd.error());
  const std::size_t offset = args.value("offset", std::size_t{1});
  const std::size_t limit = args.value("limit", kDefaultLineLimit);

  std::string text;
  std::string pending;           // the start of a line being assembled across reads
  std::size_t pending_size = 0;  // its real length so far
  std::string head;              // the first bytes, to tell binary from text
  std::size_t line_no = 0, first = 0, last = 0;
  bool stopped_for_size = false;
  auto take_line = [&](std::string_view line, std::size_t full_size) {
    ++line_no;
    if (line_no < offset || line_no >= offset + limit || stopped_for_size) return;
    if (text.size() + std::min(line.size(), kMaxLineBytes) + 64 > kMaxReadOutputBytes) {
      stopped_for_size = true;
      return;
    }
    if (first == 0) first = line_no;
    last = line_no;
    append_numbered(text, line_no, line, full_size);
  };
  // Only the start of an overlong line is shown: keep a bounded piece of it.
  auto keep_start = [&](std::string_view piece) {
    if (pending.size() < kMaxLineBytes + 8)
      pending.append(piece.substr(0, kMaxLineBytes + 8 - pending.size()));
    pending_size += piece.size();
  };
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd->get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return error_result(shown + ": read failed: " + errno_text(errno));
    if (n == 0) break;
    std::string_view chunk(buffer, static_cast<std::size_t>(n));
    if (head.size() < kSniffBytes) {
      head.append(chunk.substr(0, kSniffBytes - head.size()));
      if (head.size() >= kSniffBytes || head.size() >= static_cast<std::uint64_t>(st.st_size))
        if (auto why = binary_reason(head); !why.empty())
          return error_result(binary_refusal(shown, st.st_size, why, "read_file"));
    }
    std::size_t start = 0;
    for (std::size_t nl; (nl = chunk.find('\n', start)) != std::string_view::npos; start = nl + 1) {
      std::string_view piece = chunk.substr(start, nl - start);
      if (pending_size == 0) {
        take_line(piece, piece.size());
      } else {
        keep_start(piece);
        take_line(pending, pending_size);
        pending.clear();
        pending_size = 0;
      }
    }
    keep_start(chunk.substr(start));
  }
  if (!head.empty() && head.size() < kSniffBytes)
    if (auto why = binary_reason(head); !why.empty())
      return error_result(binary_refusal(shown, st.st_size, why, "read_file"));
  if (pending_size > 0) take_line(pending, pending_size);
  const std::size_t total = line_no;

  json structured{{"path", wp->display}, {"total_lines", total}, {"start_line", first},
                  {"end_line", last},    {"truncated", false},   {"next_offset", nullptr}};
  if (total == 0) {
    structured["truncated"] = false;
    return ToolResult{shown + " is empty (0 bytes)", structured, false};
  }
  if (offset > total)
    return error_result(fmt::format("offset {} is past the end of {}, which has {} line{}", offset,
                                    shown, total, total == 1 ? "" : "s"));
  if (last < total) {
    structured["truncated"] = true;
    structured["next_offset"] = last + 1;
    text += fmt::format("[showing lines {}-{} of {}{}; continue with offset={}]\n", first, last,
                        total, stopped_for_size ? " (output size limit)" : "", last + 1);
  }
  return ToolResult{std::move(text), std::move(structured), false};
}

// --- write_file ---

ToolResult write_file(const json& args, ToolContext& ctx) {
  const std::string shown = string_arg(args, "path");
  const std::string content = string_arg(args, "content");
  auto wp = resolve_workspace_path(ctx.workspace, shown);
  if (!wp) return error_result(wp.error());
  if (auto ok = check_writable(*wp, shown, ctx); !ok) return error_result(ok.error());
  auto written = write_beneath(*wp, shown, content, /*create_parents=*/true);
  if (!written) return error_result(written.error());
  const bool existed = written->existed;
  std::string text =
      existed ? fmt::format("wrote {} bytes to {} (replaced its {} bytes)", content.size(),
                            wp->display, written->old_size)
              : fmt::format("wrote {} bytes to {} (new file)", content.size(), wp->display);
  json structured{{"path", wp->display}, {"bytes_written", content.size()}, {"created", !existed}};
  return ToolResult{std::move(text), std::move(structured), false};
}

// --- definitions ---

json path_property(const char* what) {
  return json{{"type", "string"},
              {"minLength", 1},
              {"description", std::string(what) +
                                  " Relative to the workspace, or absolute inside it; paths "
                                  "outside the workspace are refused."}};
}

}  // namespace

std::vector<ToolDef> file_tools() {
  std::vector<ToolDef> tools;

  ToolDef read;
  read.name = "read_file";
  read.description =
      "Read a text file from the workspace. Returns its lines numbered like `cat -n` "
      "(number, tab, line); lines longer than 2000 characters are cut. Reads at most `limit` "
      "lines (default 2000) starting at line `offset` (1-based, default 1) and about 100 KB "
      "per call; when more remains, the result ends with \"[showing lines A-B of N; continue "
      "with offset=B+1]\". Binary files are refused. The line numbers are not part of the file: "
      "leave them out of edit_file's old_text.";
  read.input_schema = {
      {"type", "object"},
      {"properties",
       {{"path", path_property("The file to read.")},
        {"offset",
         {{"type", "integer"}, {"minimum", 1}, {"description", "First line to show (1-based)."}}},
        {"limit",
         {{"type", "integer"},
          {"minimum", 1},
          {"maximum", 100000},
          {"description", "How many lines to show; default 2000."}}}}},
      {"required", {"path"}},
      {"additionalProperties", false}};
  read.output_schema = {{"type", "object"},
                        {"properties",
                         {{"path", {{"type", "string"}}},
                          {"total_lines", {{"type", "integer"}}},
                          {"start_line", {{"type", "integer"}}},
                          {"end_line", {{"type", "integer"}}},
                          {"truncated", {{"type", "boolean"}}},
                          {"next_offset", {{"type", json::array({"integer", "null"})}}}}},
                        {"required", {"path", "total_lines"}}};
  read.annotations = annotations("Read file", true, false, true);
  read.run = read_file;
  tools.push_back(std::move(read));

  ToolDef write;
  write.name = "write_file";
  write.description =
      "Create or overwrite a file in the workspace with `content`, creating missing parent "
      "directories. Replaces the whole file: to change part of an existing file use edit_file. "
      "Returns the number of bytes written.";
  write.input_schema = {
      {"type", "object"},
      {"properties",
       {{"path", path_property("The file to write.")},
        {"content", {{"type", "string"}, {"description", "The complete new content."}}}}},
      {"required", {"path", "content"}},
      {"additionalProperties", false}};
  write.output_schema = {{"type", "object"},
                         {"properties",
                          {{"path", {{"type", "string"}}},
                           {"bytes_written", {{"type", "integer"}}},
                           {"created", {{"type", "boolean"}}}}},
                         {"required", {"path", "bytes_written", "created"}}};
  write.annotations = annotations("Write file", false, true, true);
  write.run = write_file;
  tools.push_back(std::move(write));

  ToolDef edit;
  edit.name = "edit_file";
  edit.description =
      "Replace text in a file of the workspace. `old_text` must match the file exactly "
      "(whitespace and indentation included; no line numbers from read_file) and exactly once, "
      "unless `replace_all` is true. If it is found 0 times, read the file again and copy the "
      "text exactly; if found several times, add surrounding lines to make it unique or set "
      "replace_all. Returns the changed lines.";
  edit.input_schema = {
      {"type", "object"},
      {"properties",
       {{"path", path_property("The file to change.")},
        {"old_text",
         {{"type", "string"}, {"minLength", 1}, {"description", "Exact text to find."}}},
        {"new_text", {{"type", "string"}, {"description", "Text to put in its place."}}},
        {"replace_all",
         {{"type", "boolean"},
          {"description", "Replace every occurrence instead of exactly one (default false)."}}}}},
      {"required", {"path", "old_text", "new_text"}},
      {"additionalProperties", false}};
  edit.output_schema = {{"type", "object"},
                        {"properties",
                         {{"path", {{"type", "string"}}},
                          {"replacements", {{"type", "integer"}}},
                          {"lines", {{"type", "array"}, {"items", {{"type", "integer"}}}}},
                          {"bytes", {{"type", "integer"}}}}},
                        {"required", {"path", "replacements"}}};
  edit.annotations = annotations("Edit file", false, true, false);
  edit.run = run_edit_file;
  tools.push_back(std::move(edit));
  return tools;
}

}  // namespace meanwhile
