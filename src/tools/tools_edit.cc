// edit_file: exact, unique text replacement, with errors that help a model correct its call.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "tools/file_io.h"
#include "tools/tools_internal.h"

namespace meanwhile {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxEditFileBytes = 64u << 20;  // edit_file loads the whole file

std::size_t line_of(std::string_view text, std::size_t pos) {
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + pos, '\n'));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string_view::npos; start = nl + 1)
    lines.push_back(text.substr(start, nl - start));
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

// Line where old_text would match if leading/trailing whitespace of each line were ignored.
std::size_t loose_match_line(std::string_view file, std::string_view old_text) {
  auto wanted = split_lines(old_text);
  while (!wanted.empty() && trim(wanted.back()).empty()) wanted.pop_back();
  while (!wanted.empty() && trim(wanted.front()).empty()) wanted.erase(wanted.begin());
  if (wanted.empty()) return 0;
  auto lines = split_lines(file);
  for (std::size_t i = 0; i + wanted.size() <= lines.size(); ++i) {
    bool same = true;
    for (std::size_t k = 0; k < wanted.size() && same; ++k)
      same = trim(lines[i + k]) == trim(wanted[k]);
    if (same) return i + 1;
  }
  return 0;
}

std::string line_list(const std::vector<std::size_t>& lines) {
  std::string list;
  for (std::size_t i = 0; i < lines.size() && i < 20; ++i)
    list += (i == 0 ? "" : ", ") + std::to_string(lines[i]);
  if (lines.size() > 20) list += ", …";
  return list;
}

// A few numbered lines around [first, last] of `text`, to show the result of an edit.
std::string snippet(std::string_view text, std::size_t first, std::size_t last) {
  auto lines = split_lines(text);
  std::size_t from = first > 3 ? first - 3 : 1;
  std::size_t to = std::min(lines.size(), std::min(last + 3, from + 40));
  std::string out;
  for (std::size_t n = from; n <= to; ++n) append_numbered(out, n, lines[n - 1]);
  return out;
}

}  // namespace

ToolResult run_edit_file(const json& args, ToolContext& ctx) {
  const std::string shown = string_arg(args, "path");
  const std::string old_text = string_arg(args, "old_text");
  const std::string new_text = string_arg(args, "new_text");
  const bool replace_all = args.value("replace_all", false);
  if (old_text.empty())  // the schema says so too; an empty pattern would match everywhere
    return error_result("old_text must not be empty; to write a whole file use write_file");
  if (old_text == new_text)
    return error_result("old_text and new_text are identical; there is nothing to change");
  auto wp = resolve_workspace_path(ctx.workspace, shown);
  if (!wp) return error_result(wp.error());
  if (auto ok = check_writable(*wp, shown, ctx); !ok) return error_result(ok.error());
  struct stat st {};
  auto fd = open_for_reading(*wp, shown, st);
  if (!fd) return error_result(fd.error());
  auto data = read_all(fd->get(), shown, kMaxEditFileBytes);
  if (!data) return error_result(data.error());
  fd->reset();
  const std::string& file = *data;
  if (auto why = binary_reason(std::string_view(file).substr(0, kSniffBytes)); !why.empty())
    return error_result(binary_refusal(shown, file.size(), why, "edit_file"));

  std::vector<std::size_t> positions;
  for (std::size_t pos = 0; (pos = file.find(old_text, pos)) != std::string::npos;
       pos += old_text.size())
    positions.push_back(pos);
  std::vector<std::size_t> lines;
  for (std::size_t pos : positions) lines.push_back(line_of(file, pos));

  if (positions.empty()) {
    std::string message = "old_text found 0 times in " + shown + "; it must match exactly";
    if (std::size_t near = loose_match_line(file, old_text); near > 0)
      message += fmt::format(
          ". Text that differs only in indentation or surrounding whitespace starts at line {}: "
          "copy it exactly (read_file shows it)",
          near);
    else if (file.find("\r\n") != std::string::npos && old_text.find('\n') != std::string::npos)
      message += ". The file has CRLF line endings: include the \\r characters";
    else
      message += ". Read the file again with read_file and copy the text exactly";
    return error_result(message);
  }
  if (positions.size() > 1 && !replace_all)
    return error_result(fmt::format(
        "old_text found {} times in {} (at lines {}); add context to make it unique or set "
        "replace_all to replace every occurrence",
        positions.size(), shown, line_list(lines)));

  std::string updated;
  updated.reserve(file.size() + positions.size() * new_text.size());
  std::size_t copied = 0;
  for (std::size_t pos : positions) {
    updated.append(file, copied, pos - copied);
    updated += new_text;
    copied = pos + old_text.size();
  }
  updated.append(file, copied);
  if (auto written = write_beneath(*wp, shown, updated, /*create_parents=*/false); !written)
    return error_result(written.error());

  std::string text;
  if (positions.size() == 1) {
    std::size_t first = line_of(updated, positions[0]);
    std::size_t last =
        first + static_cast<std::size_t>(std::count(new_text.begin(), new_text.end(), '\n'));
    text = fmt::format("replaced 1 occurrence in {} (line {}). The result:\n{}", wp->display,
                       lines[0], snippet(updated, first, last));
  } else {
    text = fmt::format("replaced {} occurrences in {} (lines {})", positions.size(), wp->display,
                       line_list(lines));
  }
  json structured{{"path", wp->display},
                  {"replacements", positions.size()},
                  {"lines", lines},
                  {"bytes", updated.size()}};
  return ToolResult{std::move(text), std::move(structured), false};
}

}  // namespace meanwhile
